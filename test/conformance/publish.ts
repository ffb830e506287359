/** MERCURE.md — Publish. */
import { expect, it } from 'vitest';
import { publish, publishOk, q, subscribe, uniqueTopic } from './client.ts';
import type { Target } from './target.ts';

export function publishTests(target: () => Target) {
  const url = () => target().url;

  it('answers 200 text/plain; charset=utf-8 with the update id, which is the SSE id', async () => {
    const topic = uniqueTopic();
    const sub = await subscribe(url(), `match=${q(topic)}`);
    const res = await publish(url(), { topic, data: 'x' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(res.text).toMatch(/^urn:uuid:[0-9a-f-]{36}$/);
    const [event] = await sub.waitForEvents(1);
    expect(event!.id).toBe(res.text);
    sub.close();
  });

  it('dispatches to subscribers of any of several topics, once each', async () => {
    const [a, b] = [uniqueTopic('a'), uniqueTopic('b')];
    const onA = await subscribe(url(), `match=${q(a)}`);
    const onB = await subscribe(url(), `match=${q(b)}`);
    const onBoth = await subscribe(url(), `match=${q(a)}&match=${q(b)}`);
    const id = await publishOk(url(), [
      ['topic', a],
      ['topic', b],
      ['data', 'both'],
    ]);
    const marker = await publishOk(url(), { topic: a, data: 'marker' });
    for (const sub of [onA, onB, onBoth]) expect((await sub.waitForEvents(1))[0]!.id).toBe(id);
    await onBoth.waitForEvents(2);
    expect(onBoth.events.map((e) => e.id)).toEqual([id, marker]);
    for (const sub of [onA, onB, onBoth]) sub.close();
  });

  it('requires a topic (400)', async () => {
    expect((await publish(url(), { data: 'x' })).status).toBe(400);
    expect((await publish(url(), 'data=x&topic=')).status).toBe(400);
  });

  it.each([
    ['the hub path', '/.well-known/mercure'],
    ['below the hub path', '/.well-known/mercure/subscriptions/exact/x/y'],
    ['another origin, same path', 'https://elsewhere.example/.well-known/mercure/x'],
    ['dot segments', '/a/b/../../.well-known/mercure/x'],
    ['encoded dot segments', '/a/%2e%2E/.well-known/mercure'],
    ['an unreserved escape', '/.well-known/%6Dercure/x'],
    ['the wildcard', '*'],
  ])('refuses a topic addressing %s (400)', async (_, topic) => {
    const res = await publish(url(), { topic, data: 'x' });
    expect(res.status).toBe(400);
  });

  it('accepts topics that only look like the hub namespace', async () => {
    for (const topic of [
      '/.well-known/mercurex',
      '/.well-known/mercure%2Fx',
      'urn:x:/.well-known/mercureish',
    ]) {
      expect((await publish(url(), { topic, data: 'x' })).status, topic).toBe(200);
    }
  });

  it.each([
    ['invalid UTF-8', 'topic=%FF%FE&data=x'],
    ['a C0 control', 'topic=%2Fa%01b&data=x'],
    ['DEL', 'topic=%2Fa%7Fb&data=x'],
    ['a C1 control', 'topic=%2Fa%C2%85b&data=x'],
  ])('refuses a topic with %s (400)', async (_, body) => {
    expect((await publish(url(), body)).status).toBe(400);
  });

  it('accepts format characters (Cf) in topics: only controls are refused', async () => {
    for (const topic of [`/a\u200bb/${crypto.randomUUID()}`, `/a\u202eb`, '\u{e0001}x']) {
      expect((await publish(url(), { topic, data: 'x' })).status, JSON.stringify(topic)).toBe(200);
    }
  });

  it('refuses invalid UTF-8 in data (400)', async () => {
    expect((await publish(url(), `topic=${q(uniqueTopic())}&data=%C3%28`)).status).toBe(400);
  });

  it('splits data into one data: line per CR, LF or CRLF', async () => {
    const topic = uniqueTopic();
    const sub = await subscribe(url(), `match=${q(topic)}`);
    const id = await publishOk(url(), { topic, data: 'one\rtwo\nthree\r\nfour\n\n' });
    const [event] = await sub.waitForEvents(1);
    expect(sub.text()).toContain(
      `id: ${id}\ndata: one\ndata: two\ndata: three\ndata: four\ndata: \ndata: \n\n`,
    );
    expect(event!.data).toBe('one\ntwo\nthree\nfour\n\n');
    sub.close();
  });

  it('sends multibyte UTF-8 data unchanged', async () => {
    const topic = uniqueTopic();
    const sub = await subscribe(url(), `match=${q(topic)}`);
    await publishOk(url(), { topic, data: 'héllo 世界 🎉' });
    expect((await sub.waitForEvents(1))[0]!.data).toBe('héllo 世界 🎉');
    sub.close();
  });

  it('keeps a leading U+FEFF in data, on the wire', async () => {
    const topic = uniqueTopic();
    const sub = await subscribe(url(), `match=${q(topic)}`);
    const id = await publishOk(url(), `topic=${q(topic)}&data=%EF%BB%BFbom`);
    const [event] = await sub.waitForEvents(1);
    expect(event!.data).toBe('\ufeffbom');
    // The stream's bytes, decoded as UTF-8 (a U+FEFF past the first byte is kept, as a char).
    expect(sub.text()).toContain(`id: ${id}\ndata: \ufeffbom\n\n`);
    sub.close();
  });

  it('keeps a leading U+FEFF in a topic: it is another topic than the one without', async () => {
    const path = `bom/${crypto.randomUUID()}`;
    const without = await subscribe(url(), `match=${q(path)}`);
    // Matchers may not hold format characters; the topic as given is reached through its URL: the
    // relative reference resolves against the hub URL, U+FEFF percent-encoded.
    const asGiven = await subscribe(url(), `match_urlpattern=${q(`/.well-known/%EF%BB%BF${path}`)}`);
    const id = await publishOk(url(), { topic: `\ufeff${path}`, data: 'with' });
    const marker = await publishOk(url(), { topic: path, data: 'without' });
    expect((await asGiven.waitForEvents(1)).map((e) => e.id)).toEqual([id]);
    expect((await without.waitForEvents(1)).map((e) => e.id)).toEqual([marker]);
    without.close();
    asGiven.close();
  });

  it('marks an update private by the presence of the field, whatever its value', async () => {
    const topic = uniqueTopic();
    const anonymous = await subscribe(url(), `match=${q(topic)}`);
    for (const body of ['private=', 'private=false', 'private', 'private=0']) {
      expect((await publish(url(), `topic=${q(topic)}&data=secret&${body}`)).status).toBe(200);
    }
    const visible = await publishOk(url(), { topic, data: 'public' });
    const [event] = await anonymous.waitForEvents(1);
    expect(event!.id).toBe(visible);
    expect(anonymous.text()).not.toContain('secret');
    anonymous.close();
  });

  it('uses a publisher-chosen id, and refuses reserved or unsafe ids (400)', async () => {
    const topic = uniqueTopic();
    const sub = await subscribe(url(), `match=${q(topic)}`);
    const mine = `https://example.com/revisions/${crypto.randomUUID()}`;
    expect(await publishOk(url(), { topic, id: mine, data: 'x' })).toBe(mine);
    expect((await sub.waitForEvents(1))[0]!.id).toBe(mine);
    for (const id of [
      '#frag',
      'earliest',
      'a\nb',
      'a\rb',
      'a\u0000b',
      'a\u0085b',
      'a\u200bb',
      'a\u202eb',
      '',
      // HTTP trims the spaces around a header value: the id could never come back as Last-Event-ID.
      ' leading',
      'trailing ',
    ]) {
      expect((await publish(url(), { topic, id, data: 'x' })).status, JSON.stringify(id)).toBe(400);
    }
    sub.close();
  });

  it('sends type as the SSE event field; refuses "mercure" and unsafe types (400)', async () => {
    const topic = uniqueTopic();
    const sub = await subscribe(url(), `match=${q(topic)}`);
    const id = await publishOk(url(), { topic, type: 'book-updated', data: 'x' });
    const [event] = await sub.waitForEvents(1);
    expect(event!.event).toBe('book-updated');
    expect(sub.text()).toContain(`id: ${id}\nevent: book-updated\ndata: x\n\n`);
    for (const type of ['mercure', 'a\nb', 'a\u0000b', 'a\u200eb']) {
      expect((await publish(url(), { topic, type, data: 'x' })).status, JSON.stringify(type)).toBe(400);
    }
    sub.close();
  });

  it('sends retry as the SSE retry field; refuses anything but ASCII digits (400)', async () => {
    const topic = uniqueTopic();
    const sub = await subscribe(url(), `match=${q(topic)}`);
    const id = await publishOk(url(), { topic, retry: '1234', data: 'x' });
    await sub.waitForEvents(1);
    expect(sub.text()).toContain(`id: ${id}\nretry: 1234\ndata: x\n\n`);
    for (const retry of ['-1', '1.5', '12a', ' 1', '١٢', '', '99999999999999999999']) {
      expect((await publish(url(), { topic, retry, data: 'x' })).status, JSON.stringify(retry)).toBe(400);
    }
    sub.close();
  });

  it('ignores unknown fields', async () => {
    const res = await publish(url(), { topic: uniqueTopic(), data: 'x', colour: 'blue', matchX: '1' });
    expect(res.status).toBe(200);
  });

  it('refuses a repeated single-valued field (400) rather than dropping a value', async () => {
    expect((await publish(url(), `topic=${q(uniqueTopic())}&data=a&data=b`)).status).toBe(400);
  });

  it('answers 413 for a body, topic count or topic length over the limits', async () => {
    const big = 'x'.repeat(4_000_001);
    expect((await publish(url(), `topic=%2Fa&data=${big}`)).status).toBe(413);
    const topics = Array.from({ length: 9 }, (_, i) => `topic=%2Fa${i}`).join('&');
    expect((await publish(url(), `${topics}&data=x`)).status).toBe(413);
    expect((await publish(url(), { topic: `/${'a'.repeat(600)}`, data: 'x' })).status).toBe(413);
  });

  it('answers 415 for a body that is not a form', async () => {
    const res = await publish(url(), '{"topic":"/a"}', { contentType: 'application/json' });
    expect(res.status).toBe(415);
  });

  it('tolerates malformed forms without crashing', async () => {
    for (const body of ['&&&', '=', '%', 'topic', 'topic=%zz&data=%', '==&==', '%%%%=%%']) {
      const res = await publish(url(), body);
      expect([200, 400]).toContain(res.status);
    }
    expect((await publish(url(), { topic: uniqueTopic(), data: 'still alive' })).status).toBe(200);
  });

  it('requires a valid token to publish (401 with a Bearer challenge)', async () => {
    const none = await publish(url(), { topic: uniqueTopic(), data: 'x' }, { token: null });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const bad = await publish(url(), { topic: uniqueTopic(), data: 'x' }, { token: 'not.a.jwt' });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
  });
}
