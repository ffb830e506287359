/**
 * What an anonymous client can make the hub do, and keep, is bounded: URL pattern work (refused when
 * compiled, never slow when matched), distinct patterns per hub, replay at the subscriber's pace, and
 * subscription events that never evict application history. See docs/security.md.
 */
import { type IncomingMessage, request } from 'node:http';
import net from 'node:net';
import { expect, it } from 'vitest';
import { eventually } from '../helpers/sse.ts';
import { HUB, metric, publishOk, q, subscribe, uniqueTopic } from './client.ts';
import type { Capabilities, Start, Target } from './target.ts';
import { bearer, detail, draft } from './tokens.ts';

export function costTests(target: () => Target, start: Start, caps: Capabilities) {
  const url = () => target().url;

  it('refuses a URL pattern whose automaton would be too large (400), at once', async () => {
    // (a|b)*a followed by 14 (a|b): a deterministic automaton needs 2^14 states to remember them.
    const pattern = '/:x((?:a|b)*a(?:a|b){14})';
    const started = performance.now();
    const sub = await subscribe(url(), `match_urlpattern=${q(pattern)}`);
    expect(sub.status).toBe(400);
    await sub.ended;
    expect(sub.text()).toMatch(/too complex/);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('refuses a request whose URL patterns cost too much in total (400)', async () => {
    // Sixteen distinct patterns of 250 characters: each is fine alone, all of them together are not.
    const patterns = Array.from(
      { length: 16 },
      (_, i) => `/${String(i).padStart(2, '0')}${'abcdefghij'.repeat(24)}/*`,
    );
    const sub = await subscribe(url(), patterns.map((p) => `match_urlpattern=${q(p)}`).join('&'));
    expect(sub.status).toBe(400);
    await sub.ended;
    expect(sub.text()).toMatch(/too complex in total/);
    // Half of them are fine.
    const half = await subscribe(
      url(),
      patterns
        .slice(0, 8)
        .map((p) => `match_urlpattern=${q(p)}`)
        .join('&'),
    );
    expect(half.status).toBe(200);
    half.close();
  });

  it('holds a bounded number of distinct URL patterns (429 past it); patterns that match alike share one', async () => {
    const hub = await start({ SSEHUB_MAX_PATTERNS: '3' });
    try {
      const open = (pattern: string) => subscribe(hub.url, `match_urlpattern=${q(pattern)}`);
      const held = [await open('/a/:x'), await open('/b/:x')];
      // Another name for the same pattern is the same pattern: it takes no place of its own…
      const alias = await open('/a/:other');
      expect(alias.status).toBe(200);
      // …so a third distinct pattern still fits, and a fourth does not.
      held.push(await open('/c/:x'));
      expect(held.map((s) => s.status)).toEqual([200, 200, 200]);
      const fourth = await open('/d/:x');
      expect(fourth.status).toBe(429);
      expect(fourth.headers.get('retry-after')).toMatch(/^\d+$/);
      const topic = `/a/${crypto.randomUUID()}`;
      await publishOk(hub.url, { topic, data: 'to both' });
      expect((await held[0]!.waitForEvents(1))[0]!.data).toBe('to both');
      expect((await alias.waitForEvents(1))[0]!.data).toBe('to both');
      // Once no one holds a pattern, its place is free.
      held[2]!.close();
      await eventually(async () => {
        const again = await open('/d/:x');
        again.close();
        return again.status === 200;
      }, 'a freed place');
      for (const s of [...held, alias]) s.close();
    } finally {
      await hub.stop();
    }
  });

  it('closes at once the connections of clients that hang up before (or while) sending a request', async () => {
    // Each would otherwise hold one of the hub's descriptors until its header timeout: a stranger who
    // connects and hangs up in a loop could fill the open-file limit without holding a socket.
    const { hostname, port } = new URL(url());
    const hangUp = async (sent: string) => {
      const socket = net.connect(Number(port), hostname);
      socket.on('error', () => {});
      let received = '';
      socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      socket.end(sent);
      await closed;
      return received;
    };
    const started = performance.now();
    const answers = await Promise.all([
      ...Array.from({ length: 20 }, () => hangUp('')),
      ...Array.from({ length: 5 }, () => hangUp(`GET ${HUB}?match=%2Fa HTTP/1.1\r\nHost: x`)),
    ]);
    // Nothing to answer but, at most, a refusal of the cut-off head.
    for (const answer of answers) expect(answer).toMatch(/^(?:HTTP\/1\.1 4\d\d [\s\S]*)?$/);
    // Far inside any header timeout (Node's is 60 s).
    expect(performance.now() - started).toBeLessThan(10_000);
  });

  it('keeps application history however many subscriptions come and go', async () => {
    const topic = uniqueTopic('kept');
    const before = await publishOk(url(), { topic, data: 'before' });
    // A watcher of subscription events, to know when they are all in history.
    const watcher = await subscribe(
      url(),
      `match_urlpattern=${q(`${HUB}/subscriptions/*`)}`,
      bearer(await draft([detail(['subscribe'], [{ match: '*' }])])),
    );
    const matchers = Array.from({ length: 16 }, (_, i) => `match=${q(`${topic}/churn/${i}`)}`).join('&');
    // 20 connections of 16 matchers: 320 subscription events on opening alone, more than the history
    // size of the fixture (200), and as many again on closing.
    for (let i = 0; i < 20; i++) {
      const churn = await subscribe(url(), matchers);
      expect(churn.status).toBe(200);
      churn.close();
    }
    await watcher.waitFor(() => watcher.events.length >= 320, '320 subscription events', 20_000);
    watcher.close();
    const after = await publishOk(url(), { topic, data: 'after' });
    const resumed = await subscribe(url(), `match=${q(topic)}`, { 'last-event-id': before });
    expect(resumed.headers.get('mercure-last-event-id')).toBe(before);
    expect((await resumed.waitForEvents(1)).map((e) => e.id)).toEqual([after]);
    resumed.close();
  });

  it('replays long history at the pace of a subscriber that stops reading, then goes live', async () => {
    const topic = uniqueTopic('paced');
    // Far more history than the backlog bound of the fixture (64 KiB): 40 updates of 50 KB.
    const payload = 'r'.repeat(50_000);
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) ids.push(await publishOk(url(), { topic, data: `${i}:${payload}` }));
    const slowBefore = await metric(url(), 'ssehub_slow_subscribers_closed_total');
    const received: Buffer[] = [];
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = request(
        `${url()}${HUB}?match=${q(topic)}`,
        { headers: { 'last-event-id': ids[0]! } },
        resolve,
      );
      req.on('error', reject);
      req.end();
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['mercure-last-event-id']).toBe(ids[0]);
    // Reads nothing for a while: the hub must wait for it, not queue the history, not close it.
    res.pause();
    await new Promise((r) => setTimeout(r, 1500));
    // One hub object counts its own closes. A sharded Worker sums every object's, where streams of
    // earlier tests may still be closing: there, that this stream was not closed shows below (it
    // delivers the whole replay and then the live update).
    if (!caps.compositeIds) {
      expect(await metric(url(), 'ssehub_slow_subscribers_closed_total')).toBe(slowBefore);
    }
    res.on('data', (chunk: Buffer) => received.push(chunk));
    res.resume();
    const text = () => Buffer.concat(received).toString();
    await eventually(() => text().includes(`id: ${ids[39]}\n`), 'the whole replay', 20_000);
    const live = await publishOk(url(), { topic, data: 'live' });
    await eventually(() => text().includes(`id: ${live}\n`), 'the live update after the replay');
    const got = [...text().matchAll(/^id: (.+)$/gm)].map((m) => m[1]);
    expect(got).toEqual([...ids.slice(1), live]);
    res.destroy();
  });
}
