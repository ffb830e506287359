/**
 * A sharded hub for black-box tests: the Workers entry with four topic shards and two relays in workerd
 * (miniflare), topics pinned to shards by `SSEHUB_SHARD_RULES` (`/s{k}/…` lives in shard k), and the
 * fixture's `/__test/abort?object=NAME` door that resets one object, as an eviction would.
 */
import { expect } from 'vitest';
import { q, updateIdOf } from '../conformance/client.ts';
import { fixtureEnv, type Target } from '../conformance/target.ts';
import { persistDir } from './runtimes.ts';
import type { SseStream } from './sse.ts';
import { bundleWorker, SHARDED_FIXTURE, startShardedWorkerd } from './workerd-bundle.ts';

/** Topic shards of the hub {@link startSharded} starts. */
export const SHARDS = 4;
const sharded = {
  SSEHUB_SHARDS: String(SHARDS),
  SSEHUB_RELAYS: '2',
  SSEHUB_SHARD_RULES: Array.from({ length: SHARDS }, (_, k) => `/s${k}/*=${k}`).join(','),
  SSEHUB_ROOMS: 'open',
};
const bundle = bundleWorker(SHARDED_FIXTURE);

/** Starts a sharded hub with the fixture settings, these and `overrides`. */
export async function startSharded(overrides: Record<string, string> = {}): Promise<Target> {
  const dir = await persistDir();
  const hub = await startShardedWorkerd(
    (await bundle).code,
    { ...fixtureEnv, ...sharded, ...overrides },
    dir.path,
  );
  return {
    url: hub.url,
    stop: async () => {
      await hub.stop();
      await dir.remove();
      return undefined;
    },
  };
}

/** Resets one object (`hub`, `shard:2`, `relay:0`…): its memory and every request it holds end. */
export async function reset(url: string, object: string): Promise<void> {
  const res = await fetch(`${url}/__test/abort?object=${q(object)}`, { method: 'POST' });
  expect(res.status).toBe(200);
  await res.text();
}

/** A topic of shard `k`, unique to the test. */
export const topicIn = (k: number, name = 't') => `/s${k}/${name}/${crypto.randomUUID()}`;

/** The update ids a stream received (the update id part of composite ids). */
export const idsOf = (stream: SseStream) => stream.events.map((e) => updateIdOf(e.id ?? ''));

/** Waits until `stream` has received every id of `ids`. */
export const receives = (stream: SseStream, ids: readonly string[], what: string) =>
  stream.waitFor(() => ids.every((id) => idsOf(stream).includes(id)), what, 10_000);
