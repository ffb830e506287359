/**
 * MERCURE.md — Publish `id` and Reconciliation: ids are IRIs, so they may be any Unicode, and they
 * cross headers both ways (`Last-Event-ID` in, `Mercure-Last-Event-ID` and the Subscription API's
 * `Link` out). On the wire they are UTF-8 bytes, as a browser's EventSource sends them back. Ids
 * are bounded, so a cursor always fits in a request header.
 */
import { expect, it } from 'vitest';
import { eventually } from '../helpers/sse.ts';
import { HUB, metric, publish, publishOk, q, subscribe, uniqueTopic } from './client.ts';
import { type Capabilities, fixtureEnv, type Target } from './target.ts';
import { bearer, detail, draft } from './tokens.ts';

/** The fixture's `SSEHUB_MAX_ID_BYTES`. */
const MAX_ID_BYTES = Number(fixtureEnv.SSEHUB_MAX_ID_BYTES);

/**
 * `id` as a browser sends it in `Last-Event-ID`: its UTF-8 bytes. `fetch` only takes byte strings
 * (one char per byte), so the bytes go as one.
 */
export const utf8Header = (id: string) => Buffer.from(id, 'utf8').toString('latin1');
/** The bytes of a response header value (`fetch` exposes each byte as one char). */
export const bytesOf = (value: string | null) => Buffer.from(value ?? '', 'latin1');
const utf8 = (id: string) => Buffer.from(id, 'utf8');

export function idTests(target: () => Target, caps: Capabilities) {
  const url = () => target().url;
  const connections = () => metric(url(), 'ssehub_connections');

  it.each([
    ['beyond Latin-1', 'urn:日本-'],
    ['in Latin-1', 'urn:caf\u00e9-'],
  ])(
    'resumes right after an id %s sent as UTF-8 bytes in Last-Event-ID, and names it in Mercure-Last-Event-ID',
    async (_, prefix) => {
      await eventually(async () => (await connections()) === 0, 'no open streams');
      const topic = uniqueTopic();
      const id = `${prefix}${crypto.randomUUID()}`;
      const first = await publishOk(url(), { topic, data: 'before the cursor' });
      expect(await publishOk(url(), { topic, id, data: 'the cursor' })).toBe(id);
      const next = await publishOk(url(), { topic, data: 'after the cursor' });

      const all = await subscribe(url(), `match=${q(topic)}&last_event_id=earliest`);
      expect((await all.waitForEvents(3)).map((e) => e.id)).toEqual([first, id, next]);
      all.close();

      const resumed = await subscribe(url(), `match=${q(topic)}`, { 'last-event-id': utf8Header(id) });
      expect(resumed.status).toBe(200);
      expect(bytesOf(resumed.headers.get('mercure-last-event-id'))).toEqual(utf8(id));
      const live = await publishOk(url(), { topic, data: 'live' });
      expect((await resumed.waitForEvents(2)).map((e) => e.id)).toEqual([next, live]);
      resumed.close();

      // The query parameter carries the same id as text.
      const byQuery = await subscribe(url(), `match=${q(topic)}&last_event_id=${q(id)}`);
      expect(bytesOf(byQuery.headers.get('mercure-last-event-id'))).toEqual(utf8(id));
      expect((await byQuery.waitForEvents(1)).map((e) => e.id)).toEqual([next]);
      byQuery.close();
      await eventually(async () => (await connections()) === 0, 'every stream closed, none leaked');
    },
  );

  it("names an id beyond Latin-1 in the Subscription API's Link header, as UTF-8 bytes", async () => {
    if (caps.compositeIds) return compositeListingCursor();
    const token = await draft([
      detail(['subscribe'], [{ match: `${HUB}/subscriptions{/*}?`, match_type: 'urlpattern' }]),
    ]);
    const topic = uniqueTopic();
    let id = '';
    let link = '';
    // The hub's position moves with every update, subscription events of earlier tests included:
    // ask again until nothing slipped in between the publish and the listing.
    await eventually(async () => {
      id = `urn:日本-${crypto.randomUUID()}`;
      await publishOk(url(), { topic, id, data: 'x' });
      const res = await fetch(`${url()}${HUB}/subscriptions`, { headers: bearer(token) });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { last_event_id: string };
      link = res.headers.get('link') ?? '';
      return body.last_event_id === id;
    }, 'a listing right after the publish');
    const match = /^<[^>]+>; rel="mercure"; last-event-id="([^"]*)"$/.exec(link);
    expect(bytesOf(match?.[1] ?? null)).toEqual(utf8(id));

    // The cursor, sent back as it came, resumes right after the id.
    const after = await publishOk(url(), { topic, data: 'after' });
    const sub = await subscribe(url(), `match=${q(topic)}`, { 'last-event-id': match![1]! });
    expect(bytesOf(sub.headers.get('mercure-last-event-id'))).toEqual(utf8(id));
    expect((await sub.waitForEvents(1)).map((e) => e.id)).toEqual([after]);
    sub.close();
  });

  /**
   * Sharded, the listing's cursor is one position per shard (no update id: no update is the newest of
   * every shard). The Link header names it as the body does, and sent back it resumes right after it
   * (the update with an id beyond Latin-1 is before it), named back in `Mercure-Last-Event-ID`.
   */
  async function compositeListingCursor() {
    const token = await draft([
      detail(['subscribe'], [{ match: `${HUB}/subscriptions{/*}?`, match_type: 'urlpattern' }]),
    ]);
    const topic = uniqueTopic();
    const id = `urn:日本-${crypto.randomUUID()}`;
    await publishOk(url(), { topic, id, data: 'x' });
    const res = await fetch(`${url()}${HUB}/subscriptions`, { headers: bearer(token) });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { last_event_id: string };
    const match = /^<[^>]+>; rel="mercure"; last-event-id="([^"]*)"$/.exec(res.headers.get('link') ?? '');
    expect(bytesOf(match?.[1] ?? null)).toEqual(utf8(body.last_event_id));
    const after = await publishOk(url(), { topic, data: 'after' });
    const sub = await subscribe(url(), `match=${q(topic)}`, { 'last-event-id': match![1]! });
    expect(sub.headers.get('mercure-last-event-id')).toBe(match![1]);
    expect((await sub.waitForEvents(1)).map((e) => e.id)).toEqual([after]);
    sub.close();
  }

  it('refuses a publisher id over the byte bound (413), counting UTF-8 bytes, and takes one at it', async () => {
    const topic = uniqueTopic();
    // Exactly the bound in bytes, in well under half as many characters.
    let atBound = `urn:${crypto.randomUUID()}:😀é`;
    while (utf8(atBound).length + 3 <= MAX_ID_BYTES) atBound += '日';
    atBound += ['', 'x', 'é'][MAX_ID_BYTES - utf8(atBound).length];
    expect(utf8(atBound).length).toBe(MAX_ID_BYTES);
    expect(atBound.length).toBeLessThan(MAX_ID_BYTES / 2);
    expect(await publishOk(url(), { topic, id: atBound, data: 'x' })).toBe(atBound);
    for (const over of [`${atBound}x`, '日'.repeat(Math.floor(MAX_ID_BYTES / 3) + 1), 'x'.repeat(100_000)]) {
      expect((await publish(url(), { topic, id: over, data: 'x' })).status, `${over.length} chars`).toBe(413);
    }

    // An id at the bound is a cursor: it resumes right after it.
    const next = await publishOk(url(), { topic, data: 'next' });
    const sub = await subscribe(url(), `match=${q(topic)}`, { 'last-event-id': utf8Header(atBound) });
    expect(bytesOf(sub.headers.get('mercure-last-event-id'))).toEqual(utf8(atBound));
    expect((await sub.waitForEvents(1)).map((e) => e.id)).toEqual([next]);
    sub.close();
  });

  it('treats a cursor longer than the id bound as unknown: earliest, and replay from the start', async () => {
    const topic = uniqueTopic();
    const first = await publishOk(url(), { topic, data: 'first' });
    const sub = await subscribe(url(), `match=${q(topic)}`, {
      'last-event-id': utf8Header('日'.repeat(MAX_ID_BYTES)),
    });
    expect(sub.status).toBe(200);
    expect(sub.headers.get('mercure-last-event-id')).toBe('earliest');
    expect((await sub.waitForEvents(1))[0]!.id).toBe(first);
    sub.close();
  });
}
