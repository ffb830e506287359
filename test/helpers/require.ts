/**
 * Optional test dependencies (Redis, Chromium, Bun, Deno, wrangler). Locally a missing one skips its
 * tests; with SSEHUB_REQUIRE_ALL=1 (CI) it fails them instead, so nothing is silently left out.
 */
import { existsSync } from 'node:fs';

export const requireAll = process.env.SSEHUB_REQUIRE_ALL === '1';

/** True when `path` exists; throws when it does not and every dependency is required. */
export function available(what: string, path: string): boolean {
  if (existsSync(path)) return true;
  if (requireAll) throw new Error(`${what} is required (SSEHUB_REQUIRE_ALL=1) but ${path} does not exist`);
  console.warn(
    `${what} not found at ${path}: its tests are skipped (set SSEHUB_REQUIRE_ALL=1 to fail instead)`,
  );
  return false;
}
