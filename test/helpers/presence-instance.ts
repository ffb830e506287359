/**
 * A hub instance's presence machinery alone, as a process that tests can pause (SIGSTOP) or kill
 * (SIGKILL): a Redis broker and a Redis registry holding `count` subscriptions.
 *
 * Usage: node --import tsx test/helpers/presence-instance.ts <redis url> <key> <ttl s> <count>
 * Prints `ready <instance id> <subscription ids as JSON>` once they are registered.
 */

import type { ActiveSubscription } from '../../src/brokers/index.ts';
import { createRedisBroker, createRedisRegistry } from '../../src/brokers/redis/index.ts';
import { startProcess } from './hub.ts';

/** A subscription as the hub records it (topic `/presence/{n}`, one subscriber per subscription). */
export function testSubscription(match: string): ActiveSubscription {
  const subscriber = `urn:uuid:${crypto.randomUUID()}`;
  return {
    id: `/.well-known/mercure/subscriptions/exact/${encodeURIComponent(match)}/${encodeURIComponent(subscriber)}`,
    type: 'subscription',
    match_type: 'exact',
    match,
    subscriber,
    active: true,
  };
}

/** Starts this script as a child process; resolves once its subscriptions are registered. */
export async function startPresenceInstance(url: string, key: string, ttlSeconds: number, count: number) {
  const proc = await startProcess(
    'node',
    ['--import', 'tsx', 'test/helpers/presence-instance.ts', url, key, String(ttlSeconds), String(count)],
    { ready: /^ready .*\n/m },
  );
  const [, instanceId, ids] = /^ready (\S+) (.*)$/m.exec(proc.output())!;
  return { ...proc, instanceId: instanceId!, ids: JSON.parse(ids!) as string[] };
}

async function main([url, key, ttl, count]: string[]) {
  const log = (message: string) => console.error(message);
  const broker = await createRedisBroker({ url: url!, key, log });
  const registry = await createRedisRegistry({ url: url!, key, ttlSeconds: Number(ttl), broker, log });
  const subscriptions = Array.from({ length: Number(count) }, (_, i) => testSubscription(`/presence/${i}`));
  for (const s of subscriptions) await registry.add([s]);
  console.log(`ready ${registry.instanceId} ${JSON.stringify(subscriptions.map((s) => s.id))}`);
}

if (process.argv[1]?.endsWith('presence-instance.ts')) {
  main(process.argv.slice(2)).catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
