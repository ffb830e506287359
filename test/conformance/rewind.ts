/**
 * The `rewind=N` extension (docs/history.md): a new subscriber gets the last N updates it would have
 * received, oldest first, then live ones, with no gap and no duplicate at the seam; a cursor wins.
 */
import { expect, it } from 'vitest';
import { HUB, publishOk, q, subscribe, uniqueTopic } from './client.ts';
import { type Start, subscriberToken, type Target } from './target.ts';

export function rewindTests(target: () => Target, start: Start) {
  const url = () => target().url;
  const publishAll = async (topic: string, count: number, prefix = 'm') => {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) ids.push(await publishOk(url(), { topic, data: `${prefix}${i}` }));
    return ids;
  };

  it('sends the last N updates of the topic, oldest first, then goes live', async () => {
    const topic = uniqueTopic('rewind');
    const ids = await publishAll(topic, 5);
    const sub = await subscribe(url(), `match=${q(topic)}&rewind=3`);
    expect(sub.status).toBe(200);
    // A new subscription, as far as Mercure is concerned: no cursor was sent, so no such header.
    expect(sub.headers.has('mercure-last-event-id')).toBe(false);
    await sub.waitForEvents(3);
    const live = await publishOk(url(), { topic, data: 'live' });
    await sub.waitForEvents(4);
    expect(sub.events.map((e) => e.id)).toEqual([...ids.slice(2), live]);
    expect(sub.events.map((e) => e.data)).toEqual(['m2', 'm3', 'm4', 'live']);
    sub.close();
  });

  it('sends all there is when history holds fewer than N, and nothing when it holds none', async () => {
    const topic = uniqueTopic('rewind-short');
    const empty = await subscribe(url(), `match=${q(topic)}&rewind=10`);
    const ids = await publishAll(topic, 2);
    const sub = await subscribe(url(), `match=${q(topic)}&rewind=10`);
    const live = await publishOk(url(), { topic, data: 'live' });
    expect((await sub.waitForEvents(3)).map((e) => e.id)).toEqual([...ids, live]);
    // The first one subscribed before anything was published: live updates only.
    expect((await empty.waitForEvents(3)).map((e) => e.id)).toEqual([...ids, live]);
    sub.close();
    empty.close();
  });

  it('counts only the updates its matchers select, whatever else is interleaved', async () => {
    const [topic, family, other] = [uniqueTopic('rw-a'), uniqueTopic('rw-family'), uniqueTopic('rw-other')];
    const wanted: string[] = [];
    for (let i = 0; i < 4; i++) {
      wanted.push(await publishOk(url(), { topic, data: `a${i}` }));
      await publishOk(url(), { topic: other, data: `o${i}` });
      wanted.push(await publishOk(url(), { topic: `${family}/${i}`, data: `f${i}` }));
      await publishOk(url(), { topic: `${other}/${i}`, data: `x${i}` });
    }
    // An update matched through an alternate topic counts too.
    wanted.push(
      await publishOk(url(), [
        ['topic', other],
        ['topic', topic],
        ['data', 'alt'],
      ]),
    );
    await publishAll(other, 3, 'late');
    const sub = await subscribe(url(), `match=${q(topic)}&match_urlpattern=${q(`${family}/:n`)}&rewind=5`);
    await sub.waitForEvents(5);
    const marker = await publishOk(url(), { topic, data: 'marker' });
    await sub.waitForEvents(6);
    expect(sub.events.map((e) => e.id)).toEqual([...wanted.slice(-5), marker]);
    sub.close();
  });

  it('counts private updates only for a subscriber whose token grants them', async () => {
    const topic = uniqueTopic('rw-private');
    const published: Array<{ id: string; secret: boolean }> = [];
    for (let i = 0; i < 6; i++) {
      const secret = i % 2 === 1;
      const form: Record<string, string> = { topic, data: secret ? `secret ${i}` : `open ${i}` };
      if (secret) form.private = 'on';
      published.push({ id: await publishOk(url(), form), secret });
    }
    const token = await subscriberToken([{ match: topic }]);
    const granted = await subscribe(url(), `match=${q(topic)}&rewind=3`, {
      authorization: `Bearer ${token}`,
    });
    const anonymous = await subscribe(url(), `match=${q(topic)}&rewind=3`);
    const marker = await publishOk(url(), { topic, data: 'marker' });
    const ids = published.map((p) => p.id);
    const open = published.filter((p) => !p.secret).map((p) => p.id);
    expect((await granted.waitForEvents(4)).map((e) => e.id)).toEqual([...ids.slice(-3), marker]);
    expect((await anonymous.waitForEvents(4)).map((e) => e.id)).toEqual([...open.slice(-3), marker]);
    expect(anonymous.text()).not.toContain('secret');
    granted.close();
    anonymous.close();
  });

  it('delivers an update published while the rewind is sent exactly once, in order', async () => {
    const topic = uniqueTopic('rw-seam');
    const before = await publishAll(topic, 5);
    // Published once the response head is here, before anything of the body was read.
    const sub = await subscribe(url(), `match=${q(topic)}&rewind=3`);
    const during = await publishOk(url(), { topic, data: 'during' });
    const after = await publishOk(url(), { topic, data: 'after' });
    await sub.waitFor(() => sub.events.some((e) => e.id === after), 'the update after');
    expect(sub.events.map((e) => e.id)).toEqual([...before.slice(-3), during, after]);
    sub.close();
  });

  it('leaves no gap and no duplicate between rewind and live while publishing goes on', async () => {
    const topic = uniqueTopic('rw-race');
    let published = 0;
    while (published < 5) await publishOk(url(), { topic, data: String(published++) });
    let stop = false;
    const publisher = (async () => {
      while (!stop && published < 100) await publishOk(url(), { topic, data: String(published++) });
    })();
    const subs = [];
    for (let i = 0; i < 6; i++) subs.push(await subscribe(url(), `match=${q(topic)}&rewind=3`));
    stop = true;
    await publisher;
    const last = String(published - 1);
    for (const sub of subs) {
      await sub.waitFor(() => sub.events.at(-1)?.data === last, 'the last update', 10_000);
      const got = sub.events.map((e) => Number(e.data));
      // A run of consecutive updates up to the last one: nothing missing, nothing twice, at least
      // the three rewound (five were there before anyone subscribed).
      expect(got.length).toBeGreaterThanOrEqual(3);
      expect(got).toEqual(Array.from({ length: got.length }, (_, i) => published - got.length + i));
      sub.close();
    }
  });

  it('answers 400 for a rewind that is not a whole number from 1 to the maximum', async () => {
    const topic = q(uniqueTopic('rw-bad'));
    const values = ['0', 'abc', '101', '-1', '1.5', '', '%203', '1e2', '99999999999999999999'];
    for (const query of [...values.map((v) => `rewind=${v}`), 'rewind=1&rewind=2']) {
      const res = await fetch(`${url()}${HUB}?match=${topic}&${query}`);
      expect(res.status, query).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(await res.text()).toContain('rewind');
    }
  });

  it('ignores rewind when a cursor is sent: Last-Event-ID wins', async () => {
    const topic = uniqueTopic('rw-cursor');
    const ids = await publishAll(topic, 4);
    const byHeader = await subscribe(url(), `match=${q(topic)}&rewind=3`, { 'last-event-id': ids[2]! });
    expect(byHeader.headers.get('mercure-last-event-id')).toBe(ids[2]);
    const byQuery = await subscribe(url(), `match=${q(topic)}&rewind=3&last_event_id=${q(ids[1]!)}`);
    expect(byQuery.headers.get('mercure-last-event-id')).toBe(ids[1]);
    // Not even read then: an EventSource reconnects with its first URL and the last id it got.
    const stale = await subscribe(url(), `match=${q(topic)}&rewind=abc`, { 'last-event-id': ids[3]! });
    expect(stale.status).toBe(200);
    const marker = await publishOk(url(), { topic, data: 'marker' });
    expect((await byHeader.waitForEvents(2)).map((e) => e.id)).toEqual([ids[3], marker]);
    expect((await byQuery.waitForEvents(3)).map((e) => e.id)).toEqual([ids[2], ids[3], marker]);
    expect((await stale.waitForEvents(1)).map((e) => e.id)).toEqual([marker]);
    for (const s of [byHeader, byQuery, stale]) s.close();
  });

  it('ignores the parameter on a hub with SSEHUB_MAX_REWIND=0, as a hub without the extension', async () => {
    const hub = await start({ SSEHUB_MAX_REWIND: '0' });
    try {
      const topic = uniqueTopic('rw-off');
      // Once a subscriber has it, the update is out: a later subscriber can only get it from history.
      const witness = await subscribe(hub.url, `match=${q(topic)}`);
      await publishOk(hub.url, { topic, data: 'before' });
      await witness.waitForEvents(1);
      witness.close();
      const sub = await subscribe(hub.url, `match=${q(topic)}&rewind=abc`);
      expect(sub.status).toBe(200);
      const rewound = await subscribe(hub.url, `match=${q(topic)}&rewind=1`);
      const live = await publishOk(hub.url, { topic, data: 'live' });
      expect((await rewound.waitForEvents(1)).map((e) => e.id)).toEqual([live]);
      expect((await sub.waitForEvents(1)).map((e) => e.id)).toEqual([live]);
      sub.close();
      rewound.close();
    } finally {
      await hub.stop();
    }
  });
}
