import { startDenoHub } from '../helpers/runtimes.ts';
import { conformance } from './suite.ts';
import { fixtureEnv } from './target.ts';

conformance(
  'deno',
  async () => {
    const hub = await startDenoHub(fixtureEnv);
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
