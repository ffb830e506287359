import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Builds what the hub serves to browsers (src/web/assets.generated.js) when missing or stale.
    globalSetup: ['test/global-setup.ts'],
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['src/**/*.test.ts'] },
      },
      {
        // Black-box tests spawn real servers (Node, Bun, Deno, workerd) whose timings the suite
        // asserts (heartbeats, token expiry, disconnect cleanup): one file at a time on a 2-core
        // machine, after the unit tests, so that they do not starve each other.
        extends: true,
        test: {
          name: 'black-box',
          include: ['test/**/*.test.ts', 'bench/**/*.test.ts'],
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
