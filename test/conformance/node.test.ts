import { startNodeHub } from '../helpers/hub.ts';
import { conformance } from './suite.ts';
import { fixtureEnv, processTarget } from './target.ts';

conformance(
  'node',
  async (overrides = {}) => processTarget(await startNodeHub({ ...fixtureEnv, ...overrides })),
  { gracefulShutdown: true },
);
