/** Runs the CLI to completion (for commands that exit: `token`, bad configurations). */
import { spawnSync } from 'node:child_process';

/** Runs `ssehub <args>` with exactly `env` (plus PATH) and returns its exit code and output. */
export function runCli(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync('node', ['--import', 'tsx', 'src/runtimes/cli.ts', ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}
