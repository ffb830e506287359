/** Start and stop real hub processes for black-box tests. */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';

/** A free TCP port on localhost. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface Process {
  readonly child: ChildProcess;
  /** Everything the process printed so far. */
  output(): string;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  readonly exited: Promise<number | string>;
  /** SIGTERM, then SIGKILL if it is still alive after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Every process a test started and has not seen exit (as its kill function, which reaches a whole
 * process group where asked): killed if the test process goes away first.
 */
const children = new Set<(signal: NodeJS.Signals) => void>();
process.once('exit', () => {
  for (const kill of children) kill('SIGKILL');
});

/** Spawns a command and resolves once its output matches `ready` (rejects if it exits first). */
export function startProcess(
  command: string,
  args: string[],
  options: {
    env?: Record<string, string>;
    ready: RegExp;
    timeoutMs?: number;
    cwd?: string;
    /** Runs it in its own process group and signals the whole group (for launchers like wrangler). */
    group?: boolean;
  },
): Promise<Process> {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.group === true,
  });
  const kill = (signal: NodeJS.Signals) => {
    try {
      if (options.group && child.pid !== undefined) process.kill(-child.pid, signal);
      else child.kill(signal);
    } catch {
      // Already gone.
    }
  };
  children.add(kill);
  child.once('exit', () => children.delete(kill));
  let output = '';
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  const proc: Process = {
    child,
    output: () => output,
    exited,
    async stop(graceMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      kill('SIGTERM');
      const timer = setTimeout(() => kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
      // The launcher is gone; anything it left behind in its group goes too.
      if (options.group) kill('SIGKILL');
    },
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      kill('SIGKILL');
      reject(new Error(`${command} not ready after ${options.timeoutMs ?? 30_000} ms:\n${output}`));
    }, options.timeoutMs ?? 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (options.ready.test(output)) {
        clearTimeout(timer);
        resolve(proc);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${command} exited (${code}) before it was ready:\n${output}`));
    });
  });
}

/** Temporary directories of history files, removed when the test process exits. */
const historyDirs = new Set<string>();
process.once('exit', () => {
  for (const dir of historyDirs) rmSync(dir, { recursive: true, force: true });
});

/** A fresh, empty history file (SQLite) in a temporary directory of its own, removed at exit. */
export function historyFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ssehub-history-'));
  historyDirs.add(dir);
  return join(dir, 'ssehub.db');
}

/**
 * The settings of a spawned hub: `env`, plus a history file of its own unless `env` names one (a test
 * that restarts a hub on the same history passes it) — never `ssehub.db` in the repository.
 */
export function hubEnv(env: Record<string, string> = {}): Record<string, string> {
  return env.SSEHUB_HISTORY_FILE === undefined ? { SSEHUB_HISTORY_FILE: historyFile(), ...env } : env;
}

/** Starts the Node hub (`src/runtimes/cli.ts`) on a free port with the given settings. */
export async function startNodeHub(env: Record<string, string> = {}, args: string[] = []) {
  const port = await freePort();
  const proc = await startProcess('node', ['--import', 'tsx', 'src/runtimes/cli.ts', ...args], {
    env: hubEnv({ PORT: String(port), HOST: '127.0.0.1', ...env }),
    ready: /listening on/,
  });
  return { ...proc, port, url: `http://127.0.0.1:${port}` };
}

/** Signs an HS256 token as an independent publisher would (not with the hub's own helper). */
export async function hs256Token(
  key: string,
  claims: Record<string, unknown> = {},
  options: { expiresIn?: number; typ?: string } = {},
): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: options.typ ?? 'at+jwt' })
    .setExpirationTime(Math.floor(Date.now() / 1000) + (options.expiresIn ?? 3600))
    .sign(new TextEncoder().encode(key));
}
