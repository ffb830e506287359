/**
 * The single-file executable (`npm run build:binary`): built once per test run from the current
 * sources, then started like any hub process.
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { freePort, hubEnv, startProcess } from './hub.ts';
import type { RuntimeHub } from './runtimes.ts';

/** Where `npm run build:binary` writes the executable for this machine. */
export const binaryPath = resolve('dist/bin/ssehub-linux-x64');

let built: string | undefined;

/** Runs `npm run build:binary` (once per process); returns the executable's path. */
export function buildBinary(): string {
  if (built) return built;
  const result = spawnSync('npm', ['run', 'build:binary'], { encoding: 'utf8', timeout: 300_000 });
  if (result.status !== 0) {
    throw new Error(`npm run build:binary failed:\n${result.stdout}${result.stderr}${result.error ?? ''}`);
  }
  built = binaryPath;
  return built;
}

/** Starts the executable on a free port with the given settings (environment, then extra flags). */
export async function startBinaryHub(env: Record<string, string>, args: string[] = []): Promise<RuntimeHub> {
  const port = await freePort();
  const proc = await startProcess(buildBinary(), args, {
    env: hubEnv({ PORT: String(port), HOST: '127.0.0.1', ...env }),
    ready: /listening on/,
  });
  return { ...proc, port, url: `http://127.0.0.1:${port}` };
}
