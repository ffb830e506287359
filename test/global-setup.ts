/**
 * Vitest global setup: builds `src/web/assets.generated.js` (not committed) before any test runs, so
 * that `npx vitest run <file>` works on a fresh clone, and hubs spawned by tests (Node, Bun, Deno,
 * workerd) and Worker bundles serve what the sources say now, never a stale build.
 */
import { writeAssets } from '../scripts/build-assets.ts';

export async function setup(): Promise<void> {
  await writeAssets();
}
