import { runtimeBinary, startBunHub } from '../helpers/runtimes.ts';
import { conformance } from './suite.ts';
import { fixtureEnv } from './target.ts';

// A missing binary fails this file at collection, rather than leaving its tests unrun.
runtimeBinary('bun');

conformance(
  'bun',
  async (overrides = {}) => {
    const hub = await startBunHub({ ...fixtureEnv, ...overrides });
    return {
      url: hub.url,
      stop: async () => {
        await hub.stop();
        return hub.exited;
      },
    };
  },
  { gracefulShutdown: true },
);
