/**
 * The servers under test, and how to start, probe and stop one. Adding a runtime is one entry in
 * `SERVERS`: a name, a command (run from the repository root with `PORT` set) and extra env.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ServerProbe } from './loadgen.ts';
import { cpuSeconds, mainThreadWaitSeconds, pinnedCore, processTree, rssBytes } from './proc.ts';

/** One server the harness knows how to run. */
export interface ServerSpec {
  name: string;
  /** argv, run from the repository root; the port comes in `PORT`. */
  command: readonly string[];
  env?: Readonly<Record<string, string>>;
  /** A file that must exist for this server to be runnable (else it is skipped with a note). */
  requires?: string;
}

/** Every known server; `--servers=a,b` picks from these by name. */
export const SERVERS: readonly ServerSpec[] = [
  {
    name: 'hub',
    command: ['node', '--import', 'tsx', 'src/runtimes/cli.ts', '--allow-anonymous-publish'],
    requires: 'src/runtimes/cli.ts',
  },
  {
    name: 'baseline',
    command: ['node', '--import', 'tsx', 'bench/baseline.ts'],
  },
  {
    // Calibration only (see the file): measures the load generator's ceiling.
    name: 'null',
    command: ['node', '--import', 'tsx', 'bench/null-hub.ts'],
  },
  {
    name: 'null-batched',
    command: ['node', '--import', 'tsx', 'bench/null-hub.ts'],
    env: { NULL_HUB_BATCH: '1' },
  },
];

/** A started server: where it listens and how to read its costs. */
export interface RunningServer {
  spec: ServerSpec;
  port: number;
  pid: number;
  probe: ServerProbe;
  stop(): Promise<void>;
}

/**
 * Starts `spec` through `launchScript` (raised open-file limit, optional core), waits
 * for its port, and returns a probe that reads /proc for the process and its descendants.
 */
export async function startServer(
  spec: ServerSpec,
  opts: { root: string; core?: number; logFile: string },
): Promise<RunningServer> {
  const port = await freePort();
  mkdirSync(join(opts.logFile, '..'), { recursive: true });
  const log = openSync(opts.logFile, 'w');
  const child = spawn('bash', ['-c', launchScript(opts), 'bash', ...spec.command], {
    cwd: opts.root,
    env: { ...process.env, ...spec.env, PORT: String(port) },
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pid = child.pid;
  try {
    if (pid === undefined) throw new Error('spawn failed');
    await waitForPort(port, child, 30_000);
  } catch (e) {
    child.kill('SIGKILL');
    throw new Error(`${spec.name} did not start: ${(e as Error).message}\n${tail(opts.logFile)}`);
  }
  // Give a CLI that forks a moment to do so, then fix the set of processes we account for.
  await sleep(200);
  const pids = processTree(pid);
  return {
    spec,
    port,
    pid,
    probe: {
      cpuSeconds: () => cpuSeconds(pids),
      rssBytes: () => rssBytes(pids),
      core: pinnedCore(pid),
      waitSeconds: () => mainThreadWaitSeconds(pid),
    },
    stop: () => stopChild(child, exited),
  };
}

/** Whether `spec` can run from `root`, or why not. */
export function unavailableReason(spec: ServerSpec, root: string): string | undefined {
  if (spec.requires && !existsSync(join(root, spec.requires))) return `${spec.requires} not found`;
  return undefined;
}

/**
 * A `bash -c` script that runs its arguments with the open-file limit raised, pinned to `core`
 * and at niceness `nice` when given. `ulimit -n` goes as high as allowed: 200000 where the hard
 * limit may be raised, else the hard limit (unprivileged containers refuse even root). Each step
 * `exec`s the next (bash → nice → taskset → program), so the spawned pid is the program's.
 *
 * With autogroup scheduling (Linux 2.6.38+, `kernel.sched_autogroup_enabled`), nice(1) only ranks
 * processes within one session; between sessions the autogroup's own nice counts. So when `nice`
 * is set, the script is meant to start a new session (spawn with `detached: true`) and sets that
 * autogroup's nice too — it holds only the harness and its servers.
 */
export function launchScript(opts: { core?: number; nice?: number }): string {
  const autogroup = opts.nice ? `echo ${opts.nice} > /proc/self/autogroup 2>/dev/null; ` : '';
  const nice = opts.nice ? `nice -n ${opts.nice} ` : '';
  const pin = opts.core === undefined ? '' : `taskset -c ${opts.core} `;
  return `${autogroup}ulimit -n 200000 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec ${nice}${pin}"$@"`;
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const gone = await Promise.race([exited.then(() => true), sleep(5_000).then(() => false)]);
  if (!gone) {
    child.kill('SIGKILL');
    await exited;
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`exited with ${child.exitCode ?? child.signalCode}`);
    }
    const up = await new Promise<boolean>((resolve) => {
      const s = createConnection({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (up) return;
    await sleep(100);
  }
  throw new Error(`port ${port} not open after ${timeoutMs} ms`);
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    return '';
  }
}
