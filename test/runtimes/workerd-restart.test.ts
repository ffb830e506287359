/**
 * Workers acceptance: history lives in the hub Durable Object's storage. `wrangler dev` is stopped and
 * started again on the same storage between a publish and a reconnect; the reconnecting subscriber
 * still gets what it missed, and then live updates, with no gap and no duplicate.
 */
import { afterAll, expect, it } from 'vitest';
import { publishOk, q, subscribe, uniqueTopic } from '../conformance/client.ts';
import { fixtureEnv } from '../conformance/target.ts';
import { persistDir, type RuntimeHub, runtimeBinary, startWorkerdHub } from '../helpers/runtimes.ts';

runtimeBinary('wrangler');

const cleanup: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
});

it('replays updates published before a wrangler dev restart to a subscriber that reconnects after it', async () => {
  const dir = await persistDir();
  cleanup.push(dir.remove);
  let hub: RuntimeHub = await startWorkerdHub(fixtureEnv, { persistTo: dir.path });
  cleanup.push(() => hub.stop());
  const topic = uniqueTopic('restart');

  const sub = await subscribe(hub.url, `match=${q(topic)}`);
  const seen = await publishOk(hub.url, { topic, data: 'seen' });
  expect((await sub.waitForEvents(1))[0]!.id).toBe(seen);
  sub.close();
  const missed = [
    await publishOk(hub.url, { topic, data: 'missed 1' }),
    await publishOk(hub.url, { topic, data: 'missed 2' }),
  ];

  await hub.stop();
  hub = await startWorkerdHub(fixtureEnv, { persistTo: dir.path });

  const again = await subscribe(hub.url, `match=${q(topic)}`, { 'last-event-id': seen });
  expect(again.headers.get('mercure-last-event-id')).toBe(seen);
  await again.waitForEvents(2);
  const live = await publishOk(hub.url, { topic, data: 'live' });
  await again.waitForEvents(3);
  expect(again.events.map((e) => e.id)).toEqual([...missed, live]);
  expect(again.events.map((e) => e.data)).toEqual(['missed 1', 'missed 2', 'live']);
  again.close();
});
