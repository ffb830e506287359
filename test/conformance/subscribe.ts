/** MERCURE.md — Subscribe, plus heartbeats and the stream's own behaviour. */
import { expect, it } from 'vitest';
import { HUB, publishOk, q, subscribe, uniqueTopic } from './client.ts';
import { FIXTURE_ISSUER, subscriberToken, type Target } from './target.ts';

export function subscribeTests(target: () => Target) {
  const url = () => target().url;

  it('answers text/event-stream with no-cache and no proxy buffering, headers flushed at once', async () => {
    const sub = await subscribe(url(), `match=${q(uniqueTopic())}`);
    expect(sub.status).toBe(200);
    expect(sub.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(sub.headers.get('cache-control')).toBe('no-cache');
    expect(sub.headers.get('x-accel-buffering')).toBe('no');
    // The first bytes on the wire are the reconnection hint.
    await sub.waitFor(() => sub.retries.length > 0, 'retry');
    expect(sub.text().startsWith('retry: 500\n\n')).toBe(true);
    sub.close();
  });

  it('matches exactly, byte for byte, with no normalization or resolution', async () => {
    const topic = uniqueTopic('Case');
    const sub = await subscribe(url(), `match=${q(topic)}`);
    const other = await subscribe(url(), `match_exact=${q(topic)}`);
    await publishOk(url(), { topic: topic.toLowerCase(), data: 'lower' });
    await publishOk(url(), { topic: `${topic}/`, data: 'slash' });
    await publishOk(url(), { topic: `${url()}${topic}`, data: 'absolute' });
    await publishOk(url(), { topic: topic.replace('/conformance/', '/conformance/./'), data: 'dot' });
    const id = await publishOk(url(), { topic, data: 'exact' });
    for (const s of [sub, other]) {
      const [event] = await s.waitForEvents(1);
      expect(event!.id).toBe(id);
      expect(s.events).toHaveLength(1);
      s.close();
    }
  });

  it('matches URL patterns, relative to the hub URL, case-sensitively', async () => {
    const room = crypto.randomUUID();
    const sub = await subscribe(url(), `match_urlpattern=${q(`/books-${room}/:id`)}`);
    await publishOk(url(), { topic: `/books-${room}/1/chapters`, data: 'deeper' });
    await publishOk(url(), { topic: `/BOOKS-${room}/1`, data: 'case' });
    await publishOk(url(), { topic: `https://elsewhere.example/books-${room}/1`, data: 'other origin' });
    const a = await publishOk(url(), { topic: `/books-${room}/1`, data: 'relative' });
    // Relative to the configured hub origin (the fixture's resource identifier's), not the request's.
    await publishOk(url(), { topic: `${url()}/books-${room}/3`, data: 'request origin' });
    const b = await publishOk(url(), { topic: `${FIXTURE_ISSUER}/books-${room}/2`, data: 'absolute' });
    await sub.waitForEvents(2);
    expect(sub.events.map((e) => e.id)).toEqual([a, b]);
    sub.close();
  });

  it('matches absolute URL patterns and never matches topics that are not URLs', async () => {
    const tag = crypto.randomUUID();
    const sub = await subscribe(url(), `match_urlpattern=${q(`https://example.com/${tag}/*`)}`);
    await publishOk(url(), { topic: `https://example.com/${tag}`, data: 'no' });
    await publishOk(url(), { topic: 'http://[not a url', data: 'no' });
    const id = await publishOk(url(), { topic: `https://example.com/${tag}/a/b?c=d`, data: 'yes' });
    expect((await sub.waitForEvents(1))[0]!.id).toBe(id);
    expect(sub.events).toHaveLength(1);
    sub.close();
  });

  it('treats * as match-all for every matcher type', async () => {
    const all = await subscribe(url(), 'match=*');
    const exact = await subscribe(url(), 'match_exact=*');
    const pattern = await subscribe(url(), 'match_urlpattern=*');
    const id = await publishOk(url(), { topic: `urn:anything:${crypto.randomUUID()}`, data: 'x' });
    for (const s of [all, exact, pattern]) {
      await s.waitFor(() => s.events.some((e) => e.id === id), 'the update');
      s.close();
    }
  });

  it('delivers an update once even when several matchers select it', async () => {
    const topic = uniqueTopic();
    const sub = await subscribe(
      url(),
      `match=${q(topic)}&match_exact=${q(topic)}&match_urlpattern=${q(topic)}`,
    );
    const first = await publishOk(url(), { topic, data: '1' });
    const second = await publishOk(url(), { topic, data: '2' });
    await sub.waitForEvents(2);
    expect(sub.events.map((e) => e.id)).toEqual([first, second]);
    sub.close();
  });

  it.each([
    ['an unknown matcher type', 'match_regex=x'],
    ['the old camel-case name', 'matchURLPattern=%2Fa'],
    ['another case', 'Match=%2Fa'],
    ['upper case', 'MATCH_EXACT=%2Fa'],
    ['a prefix-only name', 'matches=%2Fa'],
    ['no matcher at all', 'topicx=%2Fa'],
    ['an empty matcher', 'match='],
    ['invalid UTF-8', 'match=%FF'],
    ['a control character', 'match=%2Fa%0Ab'],
    ['a C1 control', 'match=%C2%9F'],
    ['a zero-width space (Cf)', 'match=%2Fa%E2%80%8Bb'],
    ['a leading U+FEFF (Cf)', 'match_exact=%EF%BB%BF%2Fa'],
    ['a bidi mark (Cf) in a URL pattern', 'match_urlpattern=%2Fa%2F%E2%80%8E%3Aid'],
    ['a tag character (Cf, beyond the BMP)', 'match=%2Fa%F3%A0%80%81'],
    ['a malformed URL pattern', 'match_urlpattern=%2F(a'],
    ['too long a matcher', `match=${'a'.repeat(257)}`],
    ['too many matchers', Array.from({ length: 17 }, (_, i) => `match=%2F${i}`).join('&')],
    ['thousands of matchers', Array.from({ length: 3000 }, (_, i) => `match=%2F${i}`).join('&')],
  ])('refuses %s (400)', async (_, query) => {
    const res = await fetch(`${url()}${HUB}?${query}`);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    await res.text();
  });

  it('ignores query parameters outside the match namespace', async () => {
    const topic = uniqueTopic();
    const sub = await subscribe(url(), `foo=bar&match=${q(topic)}&x`);
    expect(sub.status).toBe(200);
    sub.close();
  });

  it('answers a pathological URL pattern in bounded time and stays responsive', async () => {
    const pattern = `/${'*a'.repeat(12)}b`;
    const sub = await subscribe(url(), `match_urlpattern=${q(pattern)}`);
    const started = Date.now();
    expect([200, 400]).toContain(sub.status);
    await publishOk(url(), { topic: `/${'a'.repeat(400)}`, data: 'evil' });
    const id = await publishOk(url(), { topic: uniqueTopic(), data: 'after' });
    expect(id).toMatch(/^urn:uuid:/);
    expect(Date.now() - started).toBeLessThan(5000);
    sub.close();
  });

  it('supports every SSE field: id, event, retry, data', async () => {
    const topic = uniqueTopic();
    const sub = await subscribe(url(), `match=${q(topic)}`);
    await publishOk(url(), { topic, id: 'custom-1', type: 'kind', retry: '42', data: 'a\nb' });
    await sub.waitForEvents(1);
    expect(sub.text()).toContain('id: custom-1\nevent: kind\nretry: 42\ndata: a\ndata: b\n\n');
    expect(sub.retries).toContain(42);
    sub.close();
  });

  it('keeps idle streams alive with comments', async () => {
    const sub = await subscribe(url(), `match=${q(uniqueTopic())}`);
    await sub.waitFor(() => sub.comments.length >= 2, 'two heartbeats', 5000);
    expect(sub.text()).toMatch(/^retry: 500\n\n:\n:\n/);
    sub.close();
  });

  it('sends private updates only to subscribers whose token grants one of the topics', async () => {
    const topic = uniqueTopic('private');
    const anonymous = await subscribe(url(), `match=${q(topic)}`);
    const allowed = await subscribe(url(), `match=${q(topic)}`, {
      authorization: `Bearer ${await subscriberToken([{ match: topic }])}`,
    });
    const secret = await publishOk(url(), { topic, data: 'secret', private: 'on' });
    const open = await publishOk(url(), { topic, data: 'public' });
    await allowed.waitForEvents(2);
    expect(allowed.events.map((e) => e.id)).toEqual([secret, open]);
    await anonymous.waitForEvents(1);
    expect(anonymous.events.map((e) => e.id)).toEqual([open]);
    anonymous.close();
    allowed.close();
  });

  it('closes the stream when the token expires', async () => {
    const token = await subscriberToken(undefined, 2);
    const sub = await subscribe(url(), `match=${q(uniqueTopic())}`, { authorization: `Bearer ${token}` });
    expect(sub.status).toBe(200);
    const started = Date.now();
    await sub.ended;
    expect(Date.now() - started).toBeLessThan(4000);
  });
}
