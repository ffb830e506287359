/** MERCURE.md — Reconciliation: cursors, replay, the replay/live seam, Mercure-Last-Event-ID. */
import { expect, it } from 'vitest';
import { publishOk, q, subscribe, uniqueTopic } from './client.ts';
import { fixtureEnv, subscriberToken, type Target } from './target.ts';

export function reconcileTests(target: () => Target) {
  const url = () => target().url;

  /** Runs first, while the hub's history is still empty. */
  it('answers earliest when history is empty', async () => {
    const sub = await subscribe(
      url(),
      `match=*&last_event_id=${q('urn:uuid:00000000-0000-0000-0000-000000000000')}`,
    );
    expect(sub.headers.get('mercure-last-event-id')).toBe('earliest');
    sub.close();
  });

  it('replays what came after the Last-Event-ID header, then goes live', async () => {
    const topic = uniqueTopic();
    const ids = [];
    for (let i = 0; i < 4; i++) ids.push(await publishOk(url(), { topic, data: `m${i}` }));
    const sub = await subscribe(url(), `match=${q(topic)}`, { 'last-event-id': ids[1]! });
    expect(sub.headers.get('mercure-last-event-id')).toBe(ids[1]);
    await sub.waitForEvents(2);
    const live = await publishOk(url(), { topic, data: 'live' });
    await sub.waitForEvents(3);
    expect(sub.events.map((e) => e.id)).toEqual([ids[2], ids[3], live]);
    sub.close();
  });

  it('takes the cursor from last_event_id, and the header wins over it', async () => {
    const topic = uniqueTopic();
    const a = await publishOk(url(), { topic, data: 'a' });
    const b = await publishOk(url(), { topic, data: 'b' });
    const byQuery = await subscribe(url(), `match=${q(topic)}&last_event_id=${q(a)}`);
    expect(byQuery.headers.get('mercure-last-event-id')).toBe(a);
    expect((await byQuery.waitForEvents(1)).map((e) => e.id)).toEqual([b]);
    const both = await subscribe(url(), `match=${q(topic)}&last_event_id=${q(a)}`, { 'last-event-id': b });
    expect(both.headers.get('mercure-last-event-id')).toBe(b);
    const marker = await publishOk(url(), { topic, data: 'marker' });
    expect((await both.waitForEvents(1)).map((e) => e.id)).toEqual([marker]);
    byQuery.close();
    both.close();
  });

  it('replays all retained history for earliest', async () => {
    const topic = uniqueTopic();
    const ids = [await publishOk(url(), { topic, data: '1' }), await publishOk(url(), { topic, data: '2' })];
    const sub = await subscribe(url(), `match=${q(topic)}&last_event_id=earliest`);
    expect(sub.headers.get('mercure-last-event-id')).toBe('earliest');
    expect((await sub.waitForEvents(2)).map((e) => e.id)).toEqual(ids);
    sub.close();
  });

  it('answers earliest, and replays retained history, for an unknown or garbage cursor', async () => {
    const topic = uniqueTopic();
    const id = await publishOk(url(), { topic, data: 'kept' });
    for (const cursor of ['urn:uuid:unknown', 'x'.repeat(5000), '%00', '#1', '\u00e9\u00e8']) {
      const sub = await subscribe(url(), `match=${q(topic)}&last_event_id=${q(cursor)}`);
      expect(sub.status).toBe(200);
      expect(sub.headers.get('mercure-last-event-id')).toBe('earliest');
      expect((await sub.waitForEvents(1))[0]!.id).toBe(id);
      sub.close();
    }
  });

  it('answers earliest, and replays retained history, for a cursor that history has discarded', async () => {
    const topic = uniqueTopic();
    const discarded = await publishOk(url(), { topic, data: 'discarded' });
    // The fixture keeps 200 updates: 200 more push the cursor out.
    const later: string[] = [];
    for (let i = 0; i < Number(fixtureEnv.SSEHUB_HISTORY_SIZE); i++) {
      later.push(await publishOk(url(), { topic, data: String(i) }));
    }
    const sub = await subscribe(url(), `match=${q(topic)}`, { 'last-event-id': discarded });
    expect(sub.status).toBe(200);
    expect(sub.headers.get('mercure-last-event-id')).toBe('earliest');
    await sub.waitFor(() => sub.events.at(-1)?.id === later.at(-1), 'the retained history');
    const ids = sub.events.map((e) => e.id!);
    expect(ids).not.toContain(discarded);
    expect(ids).toEqual(later.slice(later.indexOf(ids[0]!)));
    sub.close();
  });

  it('sends no Mercure-Last-Event-ID without a cursor', async () => {
    const sub = await subscribe(url(), `match=${q(uniqueTopic())}`);
    expect(sub.headers.has('mercure-last-event-id')).toBe(false);
    sub.close();
  });

  it('stores a repeated id once: a retry is answered with the id and delivered to nobody', async () => {
    const topic = uniqueTopic();
    const reused = `dup-${crypto.randomUUID()}`;
    const live = await subscribe(url(), `match=${q(topic)}`);
    expect(await publishOk(url(), { topic, id: reused, data: 'first' })).toBe(reused);
    await publishOk(url(), { topic, data: 'between' });
    // A publisher retrying after a timeout: same id, answered 200 with it, not stored again.
    expect(await publishOk(url(), { topic, id: reused, data: 'again' })).toBe(reused);
    await publishOk(url(), { topic, data: 'last' });
    expect((await live.waitForEvents(3)).map((e) => e.data)).toEqual(['first', 'between', 'last']);
    live.close();
    const sub = await subscribe(url(), `match=${q(topic)}`, { 'last-event-id': reused });
    expect((await sub.waitForEvents(2)).map((e) => e.data)).toEqual(['between', 'last']);
    sub.close();
    const all = await subscribe(url(), `match=${q(topic)}&last_event_id=earliest`);
    expect((await all.waitForEvents(3)).map((e) => e.data)).toEqual(['first', 'between', 'last']);
    all.close();
  });

  it('replays only updates that match and that the token may read now', async () => {
    const topic = uniqueTopic();
    const other = uniqueTopic();
    const start = await publishOk(url(), { topic, data: 'start' });
    await publishOk(url(), { topic: other, data: 'other topic' });
    const secret = await publishOk(url(), { topic, data: 'secret', private: 'on' });
    const open = await publishOk(url(), { topic, data: 'open' });
    const anonymous = await subscribe(url(), `match=${q(topic)}`, { 'last-event-id': start });
    expect((await anonymous.waitForEvents(1)).map((e) => e.id)).toEqual([open]);
    const token = await subscriberToken([{ match: topic }]);
    const allowed = await subscribe(url(), `match=${q(topic)}`, {
      'last-event-id': start,
      authorization: `Bearer ${token}`,
    });
    expect((await allowed.waitForEvents(2)).map((e) => e.id)).toEqual([secret, open]);
    anonymous.close();
    allowed.close();
  });

  it('leaves no gap and no duplicate between replay and live while publishing goes on', async () => {
    const topic = uniqueTopic('seam');
    const first = await publishOk(url(), { topic, data: '0' });
    let stop = false;
    let published = 1;
    const publisher = (async () => {
      while (!stop && published < 150) await publishOk(url(), { topic, data: String(published++) });
    })();
    const subs = [];
    for (let i = 0; i < 8; i++)
      subs.push(await subscribe(url(), `match=${q(topic)}`, { 'last-event-id': first }));
    stop = true;
    await publisher;
    const total = published; // events 1..published-1 came after `first`
    for (const sub of subs) {
      await sub.waitForEvents(total - 1, 10_000);
      expect(sub.events.map((e) => Number(e.data))).toEqual(
        Array.from({ length: total - 1 }, (_, i) => i + 1),
      );
      sub.close();
    }
  });
}
