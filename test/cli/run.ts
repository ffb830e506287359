/** Runs the CLI to completion (for commands that exit: `token`, bad configurations). */
import { execFile } from 'node:child_process';
import { hubEnv } from '../helpers/hub.ts';

/**
 * Runs `ssehub <args>` with exactly `env` (plus PATH); resolves with its exit code and output. Async on
 * purpose: a blocked event loop would let the server close our idle keep-alive sockets unnoticed.
 */
export function runCli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'node',
      ['--import', 'tsx', 'src/runtimes/cli.ts', ...args],
      // Generous: tsx compiles on start, and a loaded 2-core CI machine is slow.
      { env: hubEnv({ PATH: process.env.PATH ?? '', ...env }), encoding: 'utf8', timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
