/**
 * A subscriber that hears nothing for longer than common server idle timeouts (Bun closes idle
 * connections after 10 s by default) keeps its stream on every runtime. The heartbeat is set far
 * beyond the wait, so nothing at all crosses the wire meanwhile; the runtimes start in parallel.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { publishOk, q, subscribe, uniqueTopic } from '../conformance/client.ts';
import { fixtureEnv } from '../conformance/target.ts';
import { type RuntimeHub, runtimeBinary, runtimes } from '../helpers/runtimes.ts';

for (const name of ['bun', 'deno', 'wrangler'] as const) runtimeBinary(name);

const QUIET_MS = 12_000;
const hubs = new Map<string, RuntimeHub>();

beforeAll(async () => {
  const quiet = { ...fixtureEnv, SSEHUB_HEARTBEAT: '3600' };
  const started = await Promise.allSettled(
    Object.entries(runtimes).map(async ([name, start]) => hubs.set(name, await start(quiet))),
  );
  for (const result of started) if (result.status === 'rejected') throw result.reason;
}, 120_000);

afterAll(async () => {
  await Promise.all([...hubs.values()].map((hub) => hub.stop()));
});

it(`keeps a stream that stays silent for ${QUIET_MS / 1000} s open, on every runtime`, async () => {
  expect([...hubs.keys()].sort()).toEqual(['bun', 'deno', 'node', 'workerd']);
  const topic = uniqueTopic('quiet');
  const subs = await Promise.all(
    [...hubs].map(async ([name, hub]) => ({ name, hub, sub: await subscribe(hub.url, `match=${q(topic)}`) })),
  );
  for (const { sub } of subs) await sub.waitFor(() => sub.retries.length > 0, 'the stream to open');
  // Nothing can be awaited here: the point is that time passes with no traffic at all.
  await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
  const open = subs.filter(({ sub }) => !sub.isEnded).map(({ name }) => name);
  expect(open.sort()).toEqual(['bun', 'deno', 'node', 'workerd']);
  for (const { name, hub, sub } of subs) {
    const id = await publishOk(hub.url, { topic, data: `still here on ${name}` });
    expect((await sub.waitForEvents(1))[0]!.id).toBe(id);
    expect(sub.comments).toEqual([]);
    sub.close();
  }
});
