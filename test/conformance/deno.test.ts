import { runtimeBinary, startDenoHub } from '../helpers/runtimes.ts';
import { conformance } from './suite.ts';
import { fixtureEnv } from './target.ts';

// A missing binary fails this file at collection, rather than leaving its tests unrun.
runtimeBinary('deno');

conformance(
  'deno',
  async (overrides = {}) => {
    const hub = await startDenoHub({ ...fixtureEnv, ...overrides });
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
