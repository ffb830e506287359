import { persistDir, runtimeBinary, startWorkerdHub } from '../helpers/runtimes.ts';
import { conformance } from './suite.ts';
import { fixtureEnv, processTarget } from './target.ts';

// A missing binary fails this file at collection, rather than leaving its tests unrun.
runtimeBinary('wrangler');

conformance(
  'workerd',
  async (overrides = {}) => {
    // Fresh storage: the hub object starts with empty history, as the suite's first test needs.
    const dir = await persistDir();
    const hub = await startWorkerdHub({ ...fixtureEnv, ...overrides }, { persistTo: dir.path });
    return processTarget(hub, () => dir.remove());
  },
  // No SIGTERM to drain on Workers: a deploy or restart cuts the object's streams and subscribers
  // resume with Last-Event-ID from storage (test/runtimes/workerd-restart.test.ts).
  { gracefulShutdown: false },
);
