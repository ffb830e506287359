/**
 * Process plumbing for the servers under test: start a command pinned to a core with a raised
 * open-file limit, wait for its port and its ready path, stop it and everything it started.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { get } from 'node:http';
import { createConnection, createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { processInfo, processTree } from './proc.ts';

/** One process the harness started (an instance or redis-server); its descendants come along. */
export interface Member {
  /** '' for a lone server, else e.g. `hub 1` or `redis`. */
  label: string;
  port: number;
  pid: number;
  child: ChildProcess;
  logFile: string;
  stop(): Promise<void>;
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

/** Starts `command` from `opts.root` through {@link launchScript}, output to `logFile`. */
export function launch(
  label: string,
  command: readonly string[],
  env: Record<string, string>,
  port: number,
  logFile: string,
  opts: { root: string; core?: number },
): Member {
  const log = openSync(logFile, 'w');
  const child = spawn('bash', ['-c', launchScript(opts), 'bash', ...command], {
    cwd: opts.root,
    env: { ...process.env, ...env },
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  if (child.pid === undefined) throw new Error(`spawning ${command[0]} failed`);
  const pid = child.pid;
  return { label, port, pid, child, logFile, stop: () => stopTree(child, pid, exited) };
}

/**
 * SIGTERM to the process, SIGKILL after 5 s; then SIGKILL to any of its descendants (as they were
 * just before) still alive 2 s later: a launcher killed hard leaves its workers behind.
 */
async function stopTree(child: ChildProcess, pid: number, exited: Promise<void>): Promise<void> {
  const tree = processTree(pid)
    .slice(1)
    .map((p) => processInfo(p))
    .filter((p) => p !== undefined);
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    const gone = await Promise.race([exited.then(() => true), sleep(5_000).then(() => false)]);
    if (!gone) {
      child.kill('SIGKILL');
      await exited;
    }
  }
  const alive = () => tree.filter((p) => processInfo(p.pid)?.startTicks === p.startTicks);
  for (let i = 0; i < 20 && alive().length > 0; i++) await sleep(100);
  for (const p of alive()) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // Gone meanwhile.
    }
  }
}

/** A free port on 127.0.0.1 not in `taken` (which it joins). */
export async function freePort(taken: Set<number> = new Set()): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const addr = srv.address();
        const port = typeof addr === 'object' && addr ? addr.port : 0;
        srv.close(() => resolve(port));
      });
    });
    if (!taken.has(port)) {
      taken.add(port);
      return port;
    }
  }
}

function exitedEarly(m: Member): void {
  if (m.child.exitCode !== null || m.child.signalCode !== null) {
    throw new Error(`${m.label || 'server'} exited with ${m.child.exitCode ?? m.child.signalCode}`);
  }
}

/** Waits until `m` accepts connections on its port (throws if it exits first). */
export async function waitForPort(m: Member, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    exitedEarly(m);
    const up = await new Promise<boolean>((resolve) => {
      const s = createConnection({ host: '127.0.0.1', port: m.port }, () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (up) return;
    await sleep(100);
  }
  throw new Error(`port ${m.port} not open after ${timeoutMs} ms`);
}

/**
 * Waits until a socket listens on `m`'s port, read from /proc/net/tcp{,6} (throws if `m` exits
 * first). Unlike a probe connection, this cannot be held up by a full listen queue: under a storm
 * of reconnecting clients, a probe's SYN is dropped and retried like theirs (1 s, 3 s, 7 s…).
 */
export async function waitForListen(m: Member, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  const port = `:${m.port.toString(16).toUpperCase().padStart(4, '0')}`;
  while (performance.now() < deadline) {
    exitedEarly(m);
    for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
      let text = '';
      try {
        text = readFileSync(table, 'utf8');
      } catch {
        continue;
      }
      // `sl local_address rem_address st …`: state 0A is LISTEN.
      for (const line of text.split('\n')) {
        const [, local, , state] = line.trim().split(/\s+/);
        if (state === '0A' && local?.endsWith(port)) return;
      }
    }
    await sleep(10);
  }
  throw new Error(`nothing listens on port ${m.port} after ${timeoutMs} ms`);
}

/** Waits until `GET path` on `m` answers 200 (throws if it exits first). */
export async function waitForReady(m: Member, path: string, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let last = 'no answer';
  while (performance.now() < deadline) {
    exitedEarly(m);
    const status = await new Promise<number>((resolve) => {
      // No keep-alive: the server under test should not carry an idle connection of ours.
      const req = get({ host: '127.0.0.1', port: m.port, path, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.once('error', () => resolve(0));
      req.setTimeout(5_000, () => req.destroy());
    });
    if (status === 200) return;
    last = status ? `status ${status}` : 'no answer';
    await sleep(200);
  }
  throw new Error(`GET ${path} on port ${m.port}: ${last} after ${timeoutMs} ms`);
}

/** Whether `program` is an executable name found on `PATH`. */
export function onPath(program: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => dir && existsSync(join(dir, program)));
}

/** The last 20 lines of `file`, for error messages. */
export function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    return '';
  }
}
