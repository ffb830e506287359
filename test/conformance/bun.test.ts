import { startBunHub } from '../helpers/runtimes.ts';
import { conformance } from './suite.ts';
import { fixtureEnv } from './target.ts';

conformance(
  'bun',
  async () => {
    const hub = await startBunHub(fixtureEnv);
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
