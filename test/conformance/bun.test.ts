import { runtimeBinary, startBunHub } from '../helpers/runtimes.ts';
import { conformance } from './suite.ts';
import { fixtureEnv, processTarget } from './target.ts';

// A missing binary fails this file at collection, rather than leaving its tests unrun.
runtimeBinary('bun');

conformance(
  'bun',
  async (overrides = {}) => processTarget(await startBunHub({ ...fixtureEnv, ...overrides })),
  { gracefulShutdown: true },
);
