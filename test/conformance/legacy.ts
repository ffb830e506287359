/**
 * MERCURE.md — Legacy ("pre-standardization") mode: tokens as Symfony's Mercure component, the Laravel
 * broadcaster and API Platform mint them, `topic=`, `lastEventID`, `Last-Event-ID`, the
 * `mercureAuthorization` cookie and the `authorization` query parameter.
 */
import { EventSource } from 'eventsource';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { eventually } from '../helpers/sse.ts';
import { HUB, metric, publish, q, subscribe, uniqueTopic } from './client.ts';
import { bytesOf, utf8Header } from './ids.ts';
import type { Start, Target } from './target.ts';
import { bearer, detail, draft, sign } from './tokens.ts';

const now = () => Math.floor(Date.now() / 1000);

/** lcobucci/jwt (Symfony, Laravel): `typ: JWT`, often no `exp`, dates with microseconds. */
const phpToken = (mercure: Record<string, unknown>, claims: Record<string, unknown> = {}) =>
  sign({ mercure, ...claims }, { typ: 'JWT', exp: null });

export function legacyTests(target: () => Target, start: Start) {
  let legacy: Target;
  const url = () => legacy.url;
  beforeAll(async () => {
    legacy = await start({ SSEHUB_LEGACY: 'true' });
  });
  afterAll(() => legacy?.stop());

  it('accepts the mercure claim of a token without exp or typ at+jwt, only in legacy mode', async () => {
    const topic = uniqueTopic();
    const token = await phpToken({ publish: ['*'] });
    const sub = await subscribe(url(), `topic=${q(topic)}`);
    const res = await publish(url(), { topic, data: 'from php' }, { token });
    expect(res.status).toBe(200);
    expect((await sub.waitForEvents(1))[0]!.id).toBe(res.text);
    sub.close();
    // The standard hub refuses the very same token, and has no `topic=` parameter.
    expect((await publish(target().url, { topic, data: 'x' }, { token })).status).toBe(401);
    expect((await fetch(`${target().url}${HUB}?topic=${q(topic)}`)).status).toBe(400);
  });

  it('accepts Symfony tokens with microsecond dates, and still enforces exp and nbf when present', async () => {
    const t = Date.now() / 1000;
    const fresh = await phpToken(
      { publish: ['*'], subscribe: [] },
      { iat: t, nbf: t - 1.5, exp: t + 3600.25 },
    );
    expect((await publish(url(), { topic: uniqueTopic(), data: 'x' }, { token: fresh })).status).toBe(200);
    for (const claims of [{ exp: now() - 60 }, { nbf: now() + 120 }, { aud: 'https://other.example' }]) {
      const token = await phpToken({ publish: ['*'] }, claims);
      const res = await publish(url(), { topic: uniqueTopic(), data: 'x' }, { token });
      expect(res.status, JSON.stringify(claims)).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
    }
    const forged = await sign(
      { mercure: { publish: ['*'] } },
      { typ: 'JWT', exp: null, key: 'y'.repeat(40) },
    );
    expect((await publish(url(), { topic: uniqueTopic(), data: 'x' }, { token: forged })).status).toBe(401);
  });

  it('still accepts current-draft tokens in legacy mode', async () => {
    const token = await draft([detail(['publish'], [{ match: '*' }])]);
    expect((await publish(url(), { topic: uniqueTopic(), data: 'x' }, { token })).status).toBe(200);
  });

  it('matches topic= selectors and mercure.publish / mercure.subscribe URI templates', async () => {
    const base = `https://example.com/books-${crypto.randomUUID()}`;
    const publisher = await phpToken({ publish: [`${base}/{id}`] });
    expect((await publish(url(), { topic: `${base}/1/x`, data: 'x' }, { token: publisher })).status).toBe(
      403,
    );
    const reader = await phpToken({ subscribe: [`${base}/{id}`] });
    const sub = await subscribe(url(), `topic=${q(`${base}/{id}`)}`, bearer(reader));
    const secret = await publish(
      url(),
      { topic: `${base}/1`, data: 'secret', private: 'on' },
      { token: publisher },
    );
    expect(secret.status).toBe(200);
    const all = await phpToken({ publish: ['*'] });
    await publish(url(), { topic: `${base}/1/deeper`, data: 'not matched' }, { token: all });
    await publish(url(), { topic: `${base}/2/deeper`, data: 'hidden', private: 'on' }, { token: all });
    const open = await publish(url(), { topic: `${base}/2`, data: 'open' }, { token: all });
    expect((await sub.waitForEvents(2)).map((e) => e.id)).toEqual([secret.text, open.text]);
    sub.close();
  });

  it('refuses control and format characters in topic= (400)', async () => {
    for (const topic of ['%2Fa%0Ab', '%2Fa%E2%80%8Bb', '%EF%BB%BF%2Fa%2F%7Bid%7D']) {
      const res = await fetch(`${url()}${HUB}?topic=${topic}`);
      expect(res.status, topic).toBe(400);
      await res.text();
    }
  });

  it('reads the cursor from lastEventID and answers Last-Event-ID too', async () => {
    const topic = uniqueTopic();
    const token = await phpToken({ publish: ['*'] });
    const first = (await publish(url(), { topic, data: '1' }, { token })).text;
    const second = (await publish(url(), { topic, data: '2' }, { token })).text;
    const sub = await subscribe(url(), `topic=${q(topic)}&lastEventID=${q(first)}`);
    expect(sub.headers.get('mercure-last-event-id')).toBe(first);
    expect(sub.headers.get('last-event-id')).toBe(first);
    expect((await sub.waitForEvents(1)).map((e) => e.id)).toEqual([second]);
    sub.close();
    // Without a cursor, Last-Event-ID tells where the hub stands, to reconcile a fetched state.
    const plain = await subscribe(url(), `topic=${q(topic)}`);
    expect(plain.headers.get('last-event-id')).toBeTruthy();
    expect(plain.headers.has('mercure-last-event-id')).toBe(false);
    plain.close();
  });

  it('answers Last-Event-ID with an id beyond Latin-1 as its UTF-8 bytes, with a cursor or without', async () => {
    const topic = uniqueTopic();
    const token = await phpToken({ publish: ['*'] });
    const id = `urn:日本-${crypto.randomUUID()}`;
    expect((await publish(url(), { topic, id, data: '1' }, { token })).text).toBe(id);
    const second = (await publish(url(), { topic, data: '2' }, { token })).text;
    const utf8 = Buffer.from(id, 'utf8');
    for (const [query, headers] of [
      [`topic=${q(topic)}&lastEventID=${q(id)}`, {}],
      [`topic=${q(topic)}`, { 'last-event-id': utf8Header(id) }],
    ] as const) {
      const sub = await subscribe(url(), query, headers);
      expect(sub.status).toBe(200);
      expect(bytesOf(sub.headers.get('last-event-id'))).toEqual(utf8);
      expect(bytesOf(sub.headers.get('mercure-last-event-id'))).toEqual(utf8);
      expect((await sub.waitForEvents(1)).map((e) => e.id)).toEqual([second]);
      sub.close();
    }
    // Without a cursor, the hub's position. Subscription events move it too: once the streams above
    // are gone (and their events out), ask until nothing slipped in between publish and subscription.
    await eventually(async () => {
      await eventually(async () => (await metric(url(), 'ssehub_connections')) === 0, 'no open streams');
      const last = `urn:日本-${crypto.randomUUID()}`;
      await publish(url(), { topic, id: last, data: '3' }, { token });
      const plain = await subscribe(url(), `topic=${q(topic)}`);
      plain.close();
      expect(plain.status).toBe(200);
      return bytesOf(plain.headers.get('last-event-id')).equals(Buffer.from(last, 'utf8'));
    }, "the hub's position");
  });

  it('delivers private updates to an EventSource carrying the mercureAuthorization cookie', async () => {
    const topic = uniqueTopic('cookie');
    const reader = await phpToken({ subscribe: [topic] });
    const source = new EventSource(`${url()}${HUB}?topic=${q(topic)}`, {
      fetch: (input, init) => {
        const headers = new Headers(init?.headers as HeadersInit);
        headers.set('cookie', `mercureAuthorization=${reader}`);
        return fetch(input, { ...init, headers });
      },
    });
    const opened = new Promise<void>((resolve) => {
      source.onopen = () => resolve();
    });
    const message = new Promise<MessageEvent>((resolve) => {
      source.onmessage = resolve;
    });
    await opened;
    const token = await phpToken({ publish: ['*'] });
    const res = await publish(url(), { topic, data: 'for the cookie holder', private: 'on' }, { token });
    const event = await message;
    expect(event.data).toBe('for the cookie holder');
    expect(event.lastEventId).toBe(res.text);
    source.close();
  });

  it('reads the token from the authorization query parameter', async () => {
    const topic = uniqueTopic();
    const reader = await phpToken({ subscribe: ['*'] });
    const sub = await subscribe(url(), `topic=${q(topic)}&authorization=${reader}`);
    const token = await phpToken({ publish: ['*'] });
    const res = await publish(url(), { topic, data: 'private', private: 'on' }, { token });
    expect((await sub.waitForEvents(1))[0]!.id).toBe(res.text);
    sub.close();
  });
}
