import { startNodeHub } from '../helpers/hub.ts';
import { conformance } from './suite.ts';
import { fixtureEnv } from './target.ts';

conformance(
  'node',
  async () => {
    const hub = await startNodeHub(fixtureEnv);
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
