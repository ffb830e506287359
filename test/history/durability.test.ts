/**
 * History people can rely on, black-box, on every runtime: the hub keeps history in its durable
 * default (SQLite on Node, Bun and Deno; the Durable Object's storage on workerd), so that
 * - a hub stopped with SIGTERM, or killed with `kill -9`, comes back with its history: a subscriber
 *   resumes with Last-Event-ID and receives exactly what it missed, then live updates;
 * - a publish that was answered is never lost, even to `kill -9` under load;
 * - a repeated publisher id is answered with that id and delivered once, before and after a restart;
 * - a busy topic does not evict a quiet topic's history when a retention rule gives topics lanes, and
 *   its losses warn (`Mercure-Last-Event-ID: earliest`) only the subscribers that match it.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { publish, publishOk, q, subscribe, uniqueTopic } from '../conformance/client.ts';
import { fixtureEnv } from '../conformance/target.ts';
import { historyFile, startNodeHub } from '../helpers/hub.ts';
import {
  persistDir,
  type RuntimeHub,
  runtimeBinary,
  startBunHub,
  startDenoHub,
  startWorkerdHub,
} from '../helpers/runtimes.ts';

/** Starts a hub of one runtime on storage that outlives it: the same storage again is a restart. */
interface Runtime {
  storage(): Promise<{ start(env?: Record<string, string>): Promise<RuntimeHub> }>;
  /** kill -9: the whole process (group, for wrangler and its workerd), no chance to clean up. */
  kill(hub: RuntimeHub): Promise<void>;
}

const cleanup: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => undefined);
});

const killProcess = async (hub: RuntimeHub) => {
  hub.child.kill('SIGKILL');
  await hub.exited;
};

const onFile =
  (spawn: (env: Record<string, string>) => Promise<RuntimeHub>): Runtime['storage'] =>
  async () => {
    const file = historyFile();
    return { start: (env = {}) => spawn({ ...fixtureEnv, ...env, SSEHUB_HISTORY_FILE: file }) };
  };

const runtimes: Record<string, Runtime> = {
  node: { storage: onFile((env) => startNodeHub(env)), kill: killProcess },
  bun: { storage: onFile(startBunHub), kill: killProcess },
  deno: { storage: onFile(startDenoHub), kill: killProcess },
  workerd: {
    async storage() {
      const dir = await persistDir();
      cleanup.push(dir.remove);
      return { start: (env = {}) => startWorkerdHub({ ...fixtureEnv, ...env }, { persistTo: dir.path }) };
    },
    async kill(hub) {
      process.kill(-hub.child.pid!, 'SIGKILL');
      await hub.exited;
    },
  },
};

for (const name of ['bun', 'deno', 'wrangler'] as const) runtimeBinary(name);

describe.each(Object.keys(runtimes))('history on %s', (name) => {
  const runtime = runtimes[name]!;
  const started = async (storage: Awaited<ReturnType<Runtime['storage']>>, env?: Record<string, string>) => {
    const hub = await storage.start(env);
    cleanup.push(() => hub.stop());
    return hub;
  };

  it.each(['SIGTERM', 'kill -9'])(
    'after a restart (%s) a subscriber resumes with Last-Event-ID and gets exactly what it missed',
    async (how) => {
      const storage = await runtime.storage();
      let hub = await started(storage);
      const topic = uniqueTopic('restart');
      const sub = await subscribe(hub.url, `match=${q(topic)}`);
      const seen = await publishOk(hub.url, { topic, data: 'seen' });
      expect((await sub.waitForEvents(1))[0]!.id).toBe(seen);
      sub.close();
      const retried = `urn:example:${crypto.randomUUID()}`;
      const missed = [
        await publishOk(hub.url, { topic, data: 'missed 1' }),
        await publishOk(hub.url, { topic, data: 'missed 2', id: retried }),
        await publishOk(hub.url, { topic, data: 'missed 3' }),
      ];
      // A retry before the restart: answered with the id, stored once.
      expect(await publishOk(hub.url, { topic, data: 'retry', id: retried })).toBe(retried);

      if (how === 'SIGTERM') await hub.stop();
      else await runtime.kill(hub);
      hub = await started(storage);

      // And after it: the id is still known.
      expect(await publishOk(hub.url, { topic, data: 'retry again', id: retried })).toBe(retried);
      const again = await subscribe(hub.url, `match=${q(topic)}`, { 'last-event-id': seen });
      expect(again.headers.get('mercure-last-event-id')).toBe(seen);
      await again.waitForEvents(3);
      const live = await publishOk(hub.url, { topic, data: 'live' });
      await again.waitForEvents(4);
      expect(again.events.map((e) => e.id)).toEqual([...missed, live]);
      expect(again.events.map((e) => e.data)).toEqual(['missed 1', 'missed 2', 'missed 3', 'live']);
      again.close();
      await hub.stop();
    },
  );

  it('never loses an answered publish to kill -9, even under load', async () => {
    const storage = await runtime.storage();
    const env = { SSEHUB_HISTORY_SIZE: '100000' };
    let hub = await started(storage, env);
    const topic = uniqueTopic('kill');
    const answered: string[] = [];
    let killed = false;
    // Four publishers, one publish after the other each, until the hub dies under them.
    const publishers = Array.from({ length: 4 }, async (_, p) => {
      for (let i = 0; !killed && i < 2000; i++) {
        try {
          const result = await publish(hub.url, { topic, data: `${p}-${i}` });
          if (result.status === 200) answered.push(result.text);
        } catch {
          return; // The connection died with the hub.
        }
      }
    });
    while (answered.length < 200) await new Promise((r) => setTimeout(r, 20));
    await runtime.kill(hub);
    killed = true;
    await Promise.all(publishers);
    hub = await started(storage, env);

    const all = await subscribe(hub.url, `match=${q(topic)}&last_event_id=earliest`);
    await all.waitForEvents(answered.length, 20_000);
    const replayed = new Set(all.events.map((e) => e.id));
    expect(answered.filter((id) => !replayed.has(id))).toEqual([]);
    // Nothing doubled either: each replayed update once.
    expect(replayed.size).toBe(all.events.length);
    all.close();
    await hub.stop();
  });

  it("keeps a quiet topic's history under a rule however busy another topic is, across a restart", async () => {
    const storage = await runtime.storage();
    const env = { SSEHUB_HISTORY_SIZE: '5', SSEHUB_RETENTION: '/rooms/*=3' };
    let hub = await started(storage, env);
    const run = crypto.randomUUID();
    const at = (topic: string, data: string) => publishOk(hub.url, { topic: `${topic}/${run}`, data });
    const quiet = [await at('/rooms/quiet', 'q0'), await at('/rooms/quiet', 'q1')];
    const hot: string[] = [];
    for (let i = 0; i < 30; i++) hot.push(await at('/rooms/hot', `h${i}`));
    const other: string[] = [];
    for (let i = 0; i < 10; i++) other.push(await at('/other', `o${i}`));
    const expected = [...quiet, ...hot.slice(-3), ...other.slice(-5)];

    for (const restart of [false, true]) {
      if (restart) {
        await hub.stop();
        hub = await started(storage, env);
      }
      const match = ['/rooms/quiet', '/rooms/hot', '/other']
        .map((t) => `match=${q(`${t}/${run}`)}`)
        .join('&');
      const all = await subscribe(hub.url, `${match}&last_event_id=earliest`);
      await all.waitForEvents(expected.length);
      expect(all.events.map((e) => e.id)).toEqual(expected);
      all.close();
      // The quiet room resumes from its first update: its second is there. (Mercure-Last-Event-ID may
      // say `earliest` for now: the hot room's lane lost updates after the cursor, and the hub warns
      // every subscriber that may read application topics.)
      const resumed = await subscribe(hub.url, `match=${q(`/rooms/quiet/${run}`)}`, {
        'last-event-id': quiet[0]!,
      });
      expect((await resumed.waitForEvents(1)).map((e) => e.id)).toEqual([quiet[1]]);
      resumed.close();
    }
    await hub.stop();
  });

  it('warns of a gap only the subscribers of a topic whose lane lost updates after their cursor', async () => {
    const storage = await runtime.storage();
    const hub = await started(storage, { SSEHUB_RETENTION: '/rooms/*=2' });
    const run = crypto.randomUUID();
    const [a, b] = [`/rooms/a/${run}`, `/rooms/b/${run}`];
    const cursor = await publishOk(hub.url, { topic: b, data: 'b0' });
    const flood: string[] = [];
    for (let i = 0; i < 5; i++) flood.push(await publishOk(hub.url, { topic: a, data: `a${i}` }));
    const missed = await publishOk(hub.url, { topic: b, data: 'b1' });

    // Room b's lane lost nothing after the cursor (room a's did): no gap, exactly what it missed.
    const quiet = await subscribe(hub.url, `match=${q(b)}`, { 'last-event-id': cursor });
    expect(quiet.headers.get('mercure-last-event-id')).toBe(cursor);
    const live = await publishOk(hub.url, { topic: b, data: 'b2' });
    expect((await quiet.waitForEvents(2)).map((e) => e.id)).toEqual([missed, live]);
    quiet.close();
    // Room a's lane discarded updates after that cursor: its subscriber is told.
    const hot = await subscribe(hub.url, `match=${q(a)}`, { 'last-event-id': cursor });
    expect(hot.headers.get('mercure-last-event-id')).toBe('earliest');
    expect((await hot.waitForEvents(2)).map((e) => e.id)).toEqual(flood.slice(-2));
    hot.close();

    // An update of room b that also went to an alternate topic, then discarded by room b's lane: a
    // subscriber of the alternate topic may have missed it, and is told.
    const alternate = `/elsewhere/${run}`;
    const anchor = await publishOk(hub.url, { topic: alternate, data: 'anchor' });
    await publishOk(hub.url, [
      ['topic', b],
      ['topic', alternate],
      ['data', 'shared'],
    ]);
    for (let i = 3; i < 5; i++) await publishOk(hub.url, { topic: b, data: `b${i}` });
    const other = await subscribe(hub.url, `match=${q(alternate)}`, { 'last-event-id': anchor });
    expect(other.headers.get('mercure-last-event-id')).toBe('earliest');
    const next = await publishOk(hub.url, { topic: alternate, data: 'next' });
    expect((await other.waitForEvents(1)).map((e) => e.id)).toEqual([next]);
    other.close();
    await hub.stop();
  });
});
