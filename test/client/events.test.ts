/**
 * The client's subscriber against a real Node hub: what it delivers, and how it resumes when the
 * connection is cut (through a TCP proxy), when the hub restarts, and when its token expires.
 */
import { describe, expect, it } from 'vitest';
import { publish } from '../../src/client/index.ts';
import { fixtureEnv, subscriberToken } from '../conformance/target.ts';
import { startNodeHub } from '../helpers/hub.ts';
import { HUB, topicOf, useClientHub } from './harness.ts';

const t = useClientHub();
const { open, proxy } = t;
const send = (
  topics: string | string[],
  fields: { data?: string; id?: string; type?: string; retry?: number } = {},
) => publish(t.hub.url + HUB, { topics, data: 'x', ...fields }, { token: t.pubToken });
const header = (head: string, name: string) => new RegExp(`^${name}: (.*)$`, 'im').exec(head)?.[1];

describe('client subscribe', () => {
  it('delivers events with multi-line and multibyte data, types and ids, to the right listeners', async () => {
    const topic = topicOf('recv');
    const { subscription, rec } = open(t.hub.url, { match: topic });
    const untyped: string[] = [];
    const greetings: string[] = [];
    subscription.on('message', (m) => untyped.push(m.lastEventId));
    subscription.on('greeting', (m) => greetings.push(m.data));
    await rec.until((r) => r.opens.length === 1, 'open');
    expect(rec.opens[0]).toMatchObject({ status: 200, replayFrom: null, reconnected: false });
    expect(subscription.state).toBe('open');

    const id1 = await send(topic, { data: 'line 1\nline 2\r\nline 3\rline 4' });
    const id2 = await send(topic, { data: 'héllo 😀 wörld', type: 'greeting', id: 'custom-2' });
    const id3 = await send([topicOf('other'), topic], { data: '' });
    await rec.until((r) => r.messages.length === 3, '3 events');
    expect(id2).toBe('custom-2');
    expect(rec.messages).toEqual([
      { type: 'message', data: 'line 1\nline 2\nline 3\nline 4', lastEventId: id1 },
      { type: 'greeting', data: 'héllo 😀 wörld', lastEventId: id2 },
      { type: 'message', data: '', lastEventId: id3 },
    ]);
    expect(untyped).toEqual([id1, id3]);
    expect(greetings).toEqual(['héllo 😀 wörld']);
    expect(subscription.lastEventId).toBe(id3);
    expect(rec.errors).toEqual([]);
  });

  it('sends several matchers (match and match_urlpattern) and gets only what they match', async () => {
    const exact = topicOf('exact');
    const family = `/client-books/${crypto.randomUUID()}`;
    const { rec } = open(t.hub.url, { match: exact, matchUrlPattern: `${family}/:id` });
    await rec.until((r) => r.opens.length === 1, 'open');
    const a = await send(exact);
    const b = await send(`${family}/42`);
    await send(`${family}/42/deeper`);
    await send(topicOf('unrelated'));
    const marker = await send(exact);
    await rec.until((r) => r.messages.length >= 3, '3 events');
    expect(rec.ids()).toEqual([a, b, marker]);
  });

  it('resumes after a cut connection from Last-Event-ID, with no loss and no duplicate', async () => {
    const topic = topicOf('resume');
    const p = await proxy();
    const { rec } = open(p.url, { match: topic });
    await rec.until((r) => r.opens.length === 1, 'open');
    const first = await send(topic, { data: 'before' });
    await rec.until((r) => r.messages.length === 1, 'first event');

    p.refuse(true);
    p.cut();
    await rec.until((r) => r.reconnects.length >= 1, 'reconnecting');
    expect(rec.errors[0]).toMatchObject({ willRetry: true });
    expect(rec.errors[0]!.error.code).toBe('network');
    const missed = [await send(topic, { data: 'during 1' }), await send(topic, { data: 'during 2' })];
    p.refuse(false);
    await rec.until((r) => r.opens.length === 2, 'reopened');
    const live = await send(topic, { data: 'after' });
    await rec.until((r) => r.messages.length === 4, '4 events');

    expect(rec.ids()).toEqual([first, ...missed, live]);
    expect(rec.messages.map((m) => m.data)).toEqual(['before', 'during 1', 'during 2', 'after']);
    expect(rec.opens[1]).toMatchObject({ lastEventId: first, replayFrom: first, reconnected: true });
    expect(rec.gaps).toEqual([]);
    expect(header(p.requests.at(-1)!.head, 'last-event-id')).toBe(first);
    expect(header(p.requests[0]!.head, 'last-event-id')).toBeUndefined();
  });

  it('rewinds the last N updates on the first connection only, then resumes from the last id', async () => {
    const topic = topicOf('rewind');
    const before = [];
    for (let i = 0; i < 4; i++) before.push(await send(topic, { data: `b${i}` }));
    const p = await proxy();
    const { rec } = open(p.url, { match: topic, rewind: 2 });
    await rec.until((r) => r.messages.length === 2, 'the rewound updates');
    expect(rec.ids()).toEqual(before.slice(-2));
    expect(rec.opens[0]).toMatchObject({ lastEventId: undefined, replayFrom: null });
    expect(p.requests[0]!.head.split('\r\n')[0]).toMatch(/[?&]rewind=2( |&)/);

    p.refuse(true);
    p.cut();
    await rec.until((r) => r.reconnects.length >= 1, 'reconnecting');
    const missed = await send(topic, { data: 'during' });
    p.refuse(false);
    await rec.until((r) => r.opens.length === 2, 'reopened');
    const live = await send(topic, { data: 'after' });
    await rec.until((r) => r.messages.length === 4, '4 events');
    // Resumed from the last id, not rewound again: nothing twice.
    expect(rec.ids()).toEqual([...before.slice(-2), missed, live]);
    const again = p.requests.at(-1)!.head;
    expect(again.split('\r\n')[0]).not.toMatch(/[?&]rewind=/);
    expect(header(again, 'last-event-id')).toBe(before.at(-1));

    // A cursor given wins: no rewind asked for.
    const q = await proxy();
    const resumed = open(q.url, { match: topic, rewind: 3, lastEventId: missed });
    await resumed.rec.until((r) => r.messages.length === 1, 'the replay');
    expect(resumed.rec.ids()).toEqual([live]);
    expect(q.requests[0]!.head.split('\r\n')[0]).not.toMatch(/[?&]rewind=/);
    expect(() => open(t.hub.url, { match: topic, rewind: 0 })).toThrow(TypeError);
    expect(() => open(t.hub.url, { match: topic, rewind: 1.5 })).toThrow(TypeError);
  });

  it('still rewinds when the first connection attempts fail', async () => {
    const topic = topicOf('rewind-retry');
    const before = [await send(topic, { data: 'b0' }), await send(topic, { data: 'b1' })];
    const p = await proxy();
    p.refuse(true);
    const { rec } = open(p.url, { match: topic, rewind: 1 });
    await rec.until((r) => r.reconnects.length >= 1, 'a failed attempt');
    p.refuse(false);
    await rec.until((r) => r.messages.length === 1, 'the rewound update');
    expect(rec.ids()).toEqual(before.slice(-1));
    expect(p.requests[0]!.head.split('\r\n')[0]).toMatch(/[?&]rewind=1( |&)/);
  });

  it('reports a gap for an unknown cursor, none for a known one or earliest', async () => {
    const topic = topicOf('gap');
    const ids = [await send(topic, { data: '1' }), await send(topic, { data: '2' })];

    const unknown = open(t.hub.url, { match: topic, lastEventId: 'urn:uuid:never-published' });
    await unknown.rec.until((r) => r.messages.length === 2, 'retained history');
    expect(unknown.rec.gaps).toEqual([{ requested: 'urn:uuid:never-published', replayFrom: 'earliest' }]);
    expect(unknown.rec.ids()).toEqual(ids);

    const known = open(t.hub.url, { match: topic, lastEventId: ids[0] });
    await known.rec.until((r) => r.messages.length === 1, 'replay after the cursor');
    expect(known.rec.opens[0]!.replayFrom).toBe(ids[0]);
    expect(known.rec.ids()).toEqual([ids[1]]);

    const all = open(t.hub.url, { match: topic, lastEventId: 'earliest' });
    await all.rec.until((r) => r.messages.length === 2, 'all history');
    expect(all.rec.opens[0]!.replayFrom).toBe('earliest');
    expect(known.rec.gaps).toEqual([]);
    expect(all.rec.gaps).toEqual([]);
  });

  it('sends a cursor that cannot be a header value (non-ASCII) as last_event_id', async () => {
    const topic = topicOf('unicode-id');
    const cursor = await send(topic, { id: `évènement-${crypto.randomUUID()}` });
    const next = await send(topic);
    const p = await proxy();
    const { rec } = open(p.url, { match: topic, lastEventId: cursor });
    await rec.until((r) => r.messages.length === 1, 'replay');
    expect(rec.ids()).toEqual([next]);
    expect(rec.gaps).toEqual([]);
    const head = p.requests[0]!.head;
    expect(header(head, 'last-event-id')).toBeUndefined();
    expect(head.split('\r\n')[0]).toContain(`last_event_id=${encodeURIComponent(cursor)}`);
  });

  it("honours the hub's retry: and a later one carried by an update", async () => {
    const slowHub = await startNodeHub({ ...fixtureEnv, SSEHUB_RETRY: '1200' });
    try {
      const p = await proxy(slowHub.port);
      const topic = topicOf('retry');
      const { rec } = open(p.url, { match: topic });
      const hubUrl = `${slowHub.url}${HUB}`;
      await rec.until((r) => r.opens.length === 1, 'open');
      // The stream starts with `retry: 1200`; an event after it proves the client has read it.
      await publish(hubUrl, { topics: topic, data: 'after the retry field' }, { token: t.pubToken });
      await rec.until((r) => r.messages.length === 1, 'first event');
      p.cut();
      const cutAt = Date.now();
      await rec.until((r) => r.opens.length === 2, 'reopened');
      const waited = p.requests[1]!.at - cutAt;
      expect(rec.reconnects[0]!.delay).toBeGreaterThanOrEqual(1200);
      expect(rec.reconnects[0]!.delay).toBeLessThanOrEqual(1500);
      expect(waited).toBeGreaterThanOrEqual(1200);
      expect(waited).toBeLessThan(2500);

      await publish(hubUrl, { topics: topic, data: 'faster', retry: 150 }, { token: t.pubToken });
      await rec.until((r) => r.messages.length === 2, 'the update with retry');
      p.cut();
      const cutAgain = Date.now();
      await rec.until((r) => r.opens.length === 3, 'reopened again');
      expect(rec.reconnects[1]!.delay).toBeGreaterThanOrEqual(150);
      expect(rec.reconnects[1]!.delay).toBeLessThanOrEqual(188);
      expect(p.requests[2]!.at - cutAgain).toBeLessThan(1000);
    } finally {
      await slowHub.stop();
    }
  });

  it('asks the token provider again on reconnect (the hub closes the stream when a token expires)', async () => {
    const topic = topicOf('token');
    const p = await proxy();
    const tokens = [await subscriberToken(undefined, 2), await subscriberToken(undefined, 3600)];
    let calls = 0;
    const { rec } = open(p.url, {
      match: topic,
      token: async () => tokens[Math.min(calls++, 1)],
    });
    await rec.until((r) => r.opens.length === 1, 'open');
    const before = await send(topic, { data: 'before expiry' });
    await rec.until((r) => r.reconnects.length === 1, 'the hub to close the expired stream');
    expect(rec.errors).toEqual([]);
    const meanwhile = await send(topic, { data: 'while reconnecting' });
    await rec.until((r) => r.opens.length === 2, 'reopened with a fresh token');
    const after = await send(topic, { data: 'after' });
    await rec.until((r) => r.messages.length === 3, '3 events');

    expect(rec.ids()).toEqual([before, meanwhile, after]);
    expect(calls).toBe(2);
    expect(header(p.requests[0]!.head, 'authorization')).toBe(`Bearer ${tokens[0]}`);
    expect(header(p.requests[1]!.head, 'authorization')).toBe(`Bearer ${tokens[1]}`);
    expect(header(p.requests[1]!.head, 'last-event-id')).toBe(before);
  });

  it('reports a failing token provider and retries', async () => {
    const topic = topicOf('token-fail');
    let calls = 0;
    const { rec } = open(t.hub.url, {
      match: topic,
      reconnect: { delay: 50 },
      token: () => {
        if (calls++ === 0) throw new Error('identity provider down');
        return t.subToken;
      },
    });
    await rec.until((r) => r.opens.length === 1, 'open after the retry');
    expect(rec.errors.map((e) => [e.error.code, e.willRetry])).toEqual([['token', true]]);
    expect((rec.errors[0]!.error.cause as Error).message).toBe('identity provider down');
  });
});
