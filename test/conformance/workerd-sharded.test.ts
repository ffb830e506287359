import { persistDir, runtimeBinary, startWorkerdHub } from '../helpers/runtimes.ts';
import { bundleWorker, SHARDED_FIXTURE, startShardedWorkerd } from '../helpers/workerd-bundle.ts';
import { conformance } from './suite.ts';
import { fixtureEnv, type Target } from './target.ts';

/**
 * The same suite on a sharded hub: four topic shards and two relays, in workerd through miniflare
 * (the Worker, every shard and relay in one process). `SSEHUB_CONFORMANCE_WRANGLER=1` runs it under
 * `wrangler dev --local` instead, with wrangler.toml's bindings.
 */
const sharded = { SSEHUB_SHARDS: '4', SSEHUB_RELAYS: '2' };
const underWrangler = process.env.SSEHUB_CONFORMANCE_WRANGLER === '1';
if (underWrangler) runtimeBinary('wrangler');
const bundle = underWrangler ? undefined : bundleWorker(SHARDED_FIXTURE);

conformance(
  `workerd, ${sharded.SSEHUB_SHARDS} shards and ${sharded.SSEHUB_RELAYS} relays${underWrangler ? ' (wrangler dev)' : ''}`,
  async (overrides = {}): Promise<Target> => {
    const dir = await persistDir();
    const vars = { ...fixtureEnv, ...sharded, ...overrides };
    if (underWrangler) {
      const hub = await startWorkerdHub(vars, { persistTo: dir.path });
      return {
        url: hub.url,
        stop: async () => {
          await hub.stop();
          await dir.remove();
          return hub.exited;
        },
      };
    }
    const hub = await startShardedWorkerd((await bundle!).code, vars, dir.path);
    return {
      url: hub.url,
      stop: async () => {
        await hub.stop();
        await dir.remove();
        return undefined;
      },
    };
  },
  {
    gracefulShutdown: false,
    compositeIds: true,
    connectionLimitPerObject: true,
    rateLimitPerObject: true,
  },
);
