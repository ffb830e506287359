import { startNodeHub } from '../helpers/hub.ts';
import { conformance } from './suite.ts';
import { fixtureEnv } from './target.ts';

conformance(
  'node',
  async (overrides = {}) => {
    const hub = await startNodeHub({ ...fixtureEnv, ...overrides });
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
