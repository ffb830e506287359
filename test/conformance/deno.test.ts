import { runtimeBinary, startDenoHub } from '../helpers/runtimes.ts';
import { conformance } from './suite.ts';
import { fixtureEnv, processTarget } from './target.ts';

// A missing binary fails this file at collection, rather than leaving its tests unrun.
runtimeBinary('deno');

conformance(
  'deno',
  async (overrides = {}) => processTarget(await startDenoHub({ ...fixtureEnv, ...overrides })),
  { gracefulShutdown: true },
);
