/**
 * The servers under test, and how to start, probe and stop one. Adding a runtime is one entry in
 * `SERVERS`: a name, a command (run from the repository root with `PORT` set) and extra env. A
 * server may also be a group — several instances of the command behind a private `redis-server` —
 * and is then measured as one: the load is split across the instances, CPU and memory are summed
 * over every process of the group.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  appendFileSync,
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  freePort,
  launch,
  type Member,
  onPath,
  tail,
  waitForListen,
  waitForPort,
  waitForReady,
} from './launch.ts';
import type { ServerProbe, Target } from './loadgen.ts';
import { NCHAN_MODULE, NGINX, nchanConfig } from './nchan.ts';
import {
  commandLine,
  mainThreadWaitSeconds,
  openFileLimit,
  pinnedCore,
  processInfo,
  processTree,
  rssBytes,
  TreeCpu,
} from './proc.ts';
import { MERCURE, NCHAN, type Wire } from './wire.ts';

export { launchScript } from './launch.ts';

/** One server the harness knows how to run. */
export interface ServerSpec {
  name: string;
  /** argv, run from the repository root; the port comes in `PORT`. */
  command: readonly string[];
  env?: Readonly<Record<string, string>>;
  /**
   * What must exist for this server to be runnable (else it is skipped with a note): paths relative
   * to the repository root; a bare name not found there is looked up on `PATH`.
   */
  requires?: readonly string[];
  /** Copies of `command` to run, each on its own port; subscribers and publishes alternate. */
  instances?: number;
  /**
   * Start a private `redis-server` first (same core) and give every instance its URL in
   * `SSEHUB_REDIS_URL` and one fresh `SSEHUB_REDIS_KEY`.
   */
  redis?: boolean;
  /** Put a fresh temporary directory in `BENCH_TMP`; it is removed when the server stops. */
  tempDir?: boolean;
  /**
   * Files written into the temporary directory (`tempDir`) before the server starts, by name: a
   * configuration that needs the port. Called with placeholders (`<port>`, `<temp dir>`) for the
   * report. One instance only.
   */
  files?: (o: { port: number | string; dir: string; connections: number }) => Record<string, string>;
  /** How subscribers and the publisher speak to it (default: Mercure). */
  wire?: Wire;
  /**
   * It reads `SSEHUB_JWT_KEY`: in the scenarios whose requests carry tokens it is started with the
   * run's key and verifies every token. Servers without it ignore the tokens.
   */
  jwtKey?: boolean;
  /** Once the port is open, GET this path until it answers 200: a launcher may listen early. */
  ready?: string;
  /**
   * Whose main thread's run-queue wait is reported: the started process (default), the first
   * process of its tree with this `comm` or whose command line starts with it (a launcher's worker,
   * `nginx: worker process`), or none (`false`) when several busy processes share the core — they
   * wait for each other, which says nothing about other load.
   */
  waitFor?: string | false;
  /** Names a process of the tree in the CPU breakdown (default: its `comm`). */
  partName?: (p: { comm: string; cmdline: string; port: number }) => string;
  /** A shell command printing the runtime's version, for the report. */
  version?: string;
}

const NODE_VERSION = 'echo "Node $(node --version)"';
const REDIS_VERSION = `echo "Node $(node --version), Redis $(redis-server --version | sed -E 's/.* v=([^ ]+).*/\\1/')"`;
const WORKERD_VERSION = `echo "$(node_modules/.bin/workerd --version), miniflare $(node -p "require('./node_modules/miniflare/package.json').version")"`;
const NCHAN_VERSION = `echo "nginx $(${NGINX} -v 2>&1 | cut -d/ -f2), Nchan $(dpkg-query -W libnginx-mod-nchan | cut -f2)"`;

/**
 * The arguments of an npm start script (`package.json`), without its program and its `--dev`: the
 * bench starts each runtime the way users do, and the two cannot drift apart.
 */
function startScriptArgs(script: string): string[] {
  const pkg = JSON.parse(readFileSync(resolve('package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  const [, ...args] = pkg.scripts[script]!.split(' ');
  if (args.at(-1) !== '--dev') throw new Error(`package.json ${script} no longer ends with --dev`);
  return args.slice(0, -1);
}

/** The hub on Node as `npm start` runs it: the built package (`npm run bench` builds it first), its V8 flags included. */
const HUB = ['node', ...startScriptArgs('start'), '--allow-anonymous-publish'];

/** Every known server; `--servers=a,b` picks from these by name. */
export const SERVERS: readonly ServerSpec[] = [
  {
    // The default: history in SQLite (a file in a fresh directory).
    name: 'hub',
    command: HUB,
    requires: ['dist/runtimes/cli.js'],
    tempDir: true,
    ready: '/healthz',
    jwtKey: true,
    version: NODE_VERSION,
  },
  {
    // History in memory only (`--history-file :memory:`), as the hub kept it before SQLite.
    name: 'hub-memory',
    command: HUB,
    env: { SSEHUB_HISTORY_FILE: ':memory:' },
    requires: ['dist/runtimes/cli.js'],
    ready: '/healthz',
    jwtKey: true,
    version: NODE_VERSION,
  },
  {
    // The reference (nchan.ts): nginx + Nchan from Debian, a private instance with one worker. The
    // master stays idle and is counted anyway; the worker's run-queue wait is the one reported.
    name: 'nchan',
    command: [
      'bash',
      '-c',
      `exec ${NGINX} -p "$BENCH_TMP" -c "$BENCH_TMP/nginx.conf" -e "$BENCH_TMP/error.log" ` +
        `-g 'daemon off; master_process on;'`,
    ],
    tempDir: true,
    files: (o) => ({ 'nginx.conf': nchanConfig(o) }),
    requires: [NGINX, NCHAN_MODULE],
    ready: '/healthz',
    waitFor: 'nginx: worker process',
    partName: ({ cmdline }) => (cmdline.startsWith('nginx: worker') ? 'nginx worker' : 'nginx master'),
    wire: NCHAN,
    version: NCHAN_VERSION,
  },
  {
    name: 'baseline',
    command: ['node', '--import', 'tsx', 'bench/baseline.ts'],
    version: NODE_VERSION,
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
  {
    // What `npm run start:bun` runs, with anonymous publishing instead of development mode.
    name: 'bun',
    command: ['node_modules/.bin/bun', ...startScriptArgs('start:bun'), '--allow-anonymous-publish'],
    requires: ['src/runtimes/bun-cli.ts', 'node_modules/.bin/bun'],
    tempDir: true,
    ready: '/healthz',
    jwtKey: true,
    version: 'echo "Bun $(node_modules/.bin/bun --version)"',
  },
  {
    // What `npm run start:deno` runs, with anonymous publishing instead of development mode.
    name: 'deno',
    command: ['node_modules/.bin/deno', ...startScriptArgs('start:deno'), '--allow-anonymous-publish'],
    requires: ['src/runtimes/deno-cli.ts', 'node_modules/.bin/deno'],
    tempDir: true,
    ready: '/healthz',
    jwtKey: true,
    version: `echo "Deno $(node_modules/.bin/deno --version | head -n 1 | cut -d ' ' -f 2)"`,
  },
  {
    // `deno` without the cap on V8's young generation that `npm run start:deno` sets: the trade-off, measured.
    name: 'deno-uncapped',
    command: [
      'node_modules/.bin/deno',
      ...startScriptArgs('start:deno').filter((arg) => !arg.startsWith('--v8-flags=')),
      '--allow-anonymous-publish',
    ],
    requires: ['src/runtimes/deno-cli.ts', 'node_modules/.bin/deno'],
    tempDir: true,
    ready: '/healthz',
    jwtKey: true,
    version: `echo "Deno $(node_modules/.bin/deno --version | head -n 1 | cut -d ' ' -f 2)"`,
  },
  {
    // The Worker and its hub Durable Object in one workerd process (miniflare, no wrangler): see
    // the file for why. Storage in a fresh directory.
    name: 'workerd',
    command: ['node', '--import', 'tsx', 'bench/workerd-direct.ts'],
    waitFor: 'workerd',
    requires: ['wrangler.toml', 'src/runtimes/cloudflare.ts', 'node_modules/.bin/workerd'],
    tempDir: true,
    ready: '/healthz',
    version: WORKERD_VERSION,
  },
  {
    // The same, past one object (docs/workers-scaling.md): four topic shards; the bench's one topic
    // lives in one of them, so this is the Worker's routing plus one shard doing the work.
    name: 'workerd-4shards',
    command: ['node', '--import', 'tsx', 'bench/workerd-direct.ts'],
    env: { SSEHUB_SHARDS: '4' },
    waitFor: 'workerd',
    requires: ['wrangler.toml', 'src/runtimes/cloudflare.ts', 'node_modules/.bin/workerd'],
    tempDir: true,
    ready: '/healthz',
    version: WORKERD_VERSION,
  },
  {
    // Four shards and two relays: subscribers spread over the relays, the shard writes each update
    // once per relay and each relay fans it out to its half. The generator's subscribers are one
    // client address, which hashes to one relay: 500 streams per relay send the second half on.
    name: 'workerd-4x2relays',
    command: ['node', '--import', 'tsx', 'bench/workerd-direct.ts'],
    env: { SSEHUB_SHARDS: '4', SSEHUB_RELAYS: '2', SSEHUB_RELAY_STREAMS: '500' },
    waitFor: 'workerd',
    requires: ['wrangler.toml', 'src/runtimes/cloudflare.ts', 'node_modules/.bin/workerd'],
    tempDir: true,
    ready: '/healthz',
    version: WORKERD_VERSION,
  },
  {
    // `npm run dev:worker`: wrangler's node process, a workerd that proxies the public port (and
    // runs the DevTools proxy) and the workerd running the Worker and its hub Durable Object.
    // Heartbeat as on the other runtimes (wrangler.toml ships 3 s for Workers' disconnect
    // detection); storage in a fresh directory.
    name: 'wrangler-dev',
    command: [
      'bash',
      '-c',
      'exec node_modules/.bin/wrangler dev --local --ip 127.0.0.1 --port "$PORT" --persist-to "$BENCH_TMP" ' +
        '--show-interactive-dev-session=false --log-level warn ' +
        '--var SSEHUB_ALLOW_ANONYMOUS_PUBLISH:true --var SSEHUB_HEARTBEAT:15',
    ],
    env: { CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_SEND_METRICS: 'false' },
    requires: ['wrangler.toml', 'node_modules/.bin/wrangler', 'node_modules/.bin/workerd'],
    tempDir: true,
    waitFor: false,
    partName: ({ comm, cmdline, port }) =>
      cmdline.includes(`entry=127.0.0.1:${port} `) ? `${comm} (proxy)` : comm,
    ready: '/healthz',
    version: `echo "wrangler $(node -p "require('./node_modules/wrangler/package.json').version"), $(node_modules/.bin/workerd --version)"`,
  },
  {
    // One instance on the Redis broker: the hop alone, without a second process.
    name: 'redis1',
    command: HUB,
    redis: true,
    requires: ['dist/runtimes/cli.js', 'redis-server'],
    ready: '/healthz',
    jwtKey: true,
    version: REDIS_VERSION,
  },
  {
    name: 'redis2',
    command: HUB,
    instances: 2,
    redis: true,
    requires: ['dist/runtimes/cli.js', 'redis-server'],
    ready: '/healthz',
    jwtKey: true,
    version: REDIS_VERSION,
  },
];

/** A started server: where it listens and how to read its costs. */
export interface RunningServer {
  spec: ServerSpec;
  /** Where the load goes: one address per instance. */
  targets: Target[];
  /** The first instance's port. */
  port: number;
  /** How to speak to it. */
  wire: Wire;
  probe: ServerProbe;
  /**
   * Stops the instances (SIGTERM, as `stop`) and starts them again on the same ports, with the same
   * command, environment and files; a Redis group's redis-server keeps running. Resolves once they
   * listen again (their ready path is not probed: clients may be storming the port), with the
   * moments (`performance.now()`) it went through.
   */
  restart(): Promise<Restart>;
  stop(): Promise<void>;
}

/** When a restart signalled the old processes, saw them gone and found the new ones listening (ms). */
export interface Restart {
  signalledAt: number;
  exitedAt: number;
  listeningAt: number;
}

/**
 * Starts `spec` (redis-server first if it needs one, then every instance) through `launchScript`
 * (raised open-file limit, optional core), waits for the ports and the ready path, and returns a
 * probe that reads /proc for every process of the server and their descendants. `env` is added to
 * the spec's own (a scenario's key).
 */
export async function startServer(
  spec: ServerSpec,
  opts: { root: string; core?: number; logFile: string; env?: Readonly<Record<string, string>> },
): Promise<RunningServer> {
  mkdirSync(dirname(opts.logFile), { recursive: true });
  const members: Member[] = [];
  const dirs: string[] = [];
  const taken = new Set<number>();
  const grouped = Boolean(spec.redis) || (spec.instances ?? 1) > 1;
  const logOf = (label: string, suffix = '') =>
    grouped || suffix
      ? opts.logFile.replace(/(\.log)?$/, `${label ? `-${label.replace(/\W/g, '')}` : ''}${suffix}.log`)
      : opts.logFile;
  const stopAll = async () => {
    // Instances before the Redis they use, so that none logs a lost connection on the way out.
    for (const m of [...members].reverse()) await m.stop();
    // Stopping twice is harmless: the directories are gone after the first time.
    for (const d of dirs.splice(0)) {
      keepLogs(d, opts.logFile);
      rmSync(d, { recursive: true, force: true });
    }
  };
  const env: Record<string, string> = { ...opts.env };
  try {
    if (spec.tempDir) {
      env.BENCH_TMP = mkdtempSync(join(tmpdir(), 'ssehub-bench-'));
      dirs.push(env.BENCH_TMP);
      // The hub's history file (Node, Bun, Deno), never in the repository; workerd ignores it.
      env.SSEHUB_HISTORY_FILE = join(env.BENCH_TMP, 'ssehub.db');
    }
    if (spec.redis) {
      const dir = mkdtempSync(join(tmpdir(), 'ssehub-bench-redis-'));
      dirs.push(dir);
      const port = await freePort(taken);
      const redis = launch(
        'redis',
        ['redis-server', ...redisArgs(String(port), dir)],
        {},
        port,
        logOf('redis'),
        opts,
      );
      members.push(redis);
      await waitForPort(redis, 30_000);
      env.SSEHUB_REDIS_URL = `redis://127.0.0.1:${port}`;
      env.SSEHUB_REDIS_KEY = `bench-${randomUUID().slice(0, 8)}`;
    }
    const ports: number[] = [];
    for (let i = 0; i < (spec.instances ?? 1); i++) ports.push(await freePort(taken));
    let launches = 0;
    const instances: Member[] = [];
    const launchInstances = async (restart: boolean) => {
      const suffix = launches++ === 0 ? '' : `-restart${launches - 1}`;
      const started = ports.map((port, i) => {
        const label = grouped ? `hub ${i + 1}` : '';
        if (spec.files) writeFiles(spec, port, env.BENCH_TMP);
        return launch(
          label,
          spec.command,
          { ...spec.env, ...env, PORT: String(port) },
          port,
          logOf(label, suffix),
          opts,
        );
      });
      members.push(...started);
      instances.splice(0, instances.length, ...started);
      if (restart) {
        await Promise.all(started.map((m) => waitForListen(m, 60_000)));
        return;
      }
      await Promise.all(started.map((m) => waitForPort(m, 60_000)));
      const ready = spec.ready;
      if (ready) await Promise.all(started.map((m) => waitForReady(m, ready, 60_000)));
    };
    await launchInstances(false);
    // Give a CLI that forks a moment to do so.
    await sleep(200);
    const restart = async (): Promise<Restart> => {
      const signalledAt = performance.now();
      for (const m of [...instances].reverse()) {
        await m.stop();
        members.splice(members.indexOf(m), 1);
      }
      const exitedAt = performance.now();
      await launchInstances(true);
      return { signalledAt, exitedAt, listeningAt: performance.now() };
    };
    return running(spec, members, instances, restart, stopAll);
  } catch (e) {
    const logs = members.map((m) => tail(m.logFile)).join('\n');
    await stopAll();
    throw new Error(`${spec.name} did not start: ${(e as Error).message}\n${logs}`);
  }
}

/** Appends the `*.log` files a server wrote into its temporary directory (nginx's error log) to `logFile`. */
function keepLogs(dir: string, logFile: string): void {
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.log'))) {
    appendFileSync(
      logFile,
      `\n--- ${name} from its temporary directory ---\n${readFileSync(join(dir, name), 'utf8')}`,
    );
  }
}

/**
 * Writes `spec.files` into the server's temporary directory. The directory is opened to every user:
 * a server that drops privileges (nginx started as root runs its workers as `nobody`) must reach it.
 */
function writeFiles(spec: ServerSpec, port: number, dir: string | undefined): void {
  if (!dir) throw new Error(`${spec.name}: files need a temporary directory (tempDir)`);
  chmodSync(dir, 0o755);
  const files = spec.files?.({ port, dir, connections: serverConnections() }) ?? {};
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
}

/**
 * Connections a server may hold: the open-file limit the harness runs with, which `launchScript`
 * gives the server too, less a margin for its other files.
 */
function serverConnections(): number {
  const limit = openFileLimit();
  return Number.isFinite(limit) ? Math.max(1024, limit - 100) : 1024;
}

function running(
  spec: ServerSpec,
  members: Member[],
  instances: readonly Member[],
  restart: () => Promise<Restart>,
  stop: () => Promise<void>,
): RunningServer {
  const first = () => instances[0]!;
  const port = first().port;
  const cpu = new TreeCpu(
    () => members,
    (label, p) => {
      const name = spec.partName?.({ comm: p.comm, cmdline: commandLine(p.pid), port }) ?? p.comm;
      return label && label !== 'redis' ? `${label}: ${name}` : name;
    },
  );
  // Several processes on one core also wait for each other: their run-queue wait says nothing
  // about other load then, which "other processes on the server core" still shows. The process is
  // looked up again after a restart.
  const waitFor = spec.waitFor;
  let waitPid: { root: number; pid: number | undefined } | undefined;
  const waitPidNow = (): number | undefined => {
    const root = first().pid;
    if (waitPid?.root !== root) {
      const pid =
        waitFor === undefined
          ? root
          : waitFor === false
            ? undefined
            : processTree(root).find(
                (p) => processInfo(p)?.comm === waitFor || commandLine(p).startsWith(waitFor),
              );
      waitPid = { root, pid };
    }
    return waitPid.pid;
  };
  const measured = members.length === 1 && waitFor !== false;
  return {
    spec,
    targets: instances.map((m) => ({ host: '127.0.0.1', port: m.port })),
    port,
    wire: spec.wire ?? MERCURE,
    probe: {
      cpuSeconds: () => sum(cpu.byPart().values()),
      cpuParts: () => cpu.byPart(),
      rssBytes: () => sum(members.map((m) => rssBytes(processTree(m.pid)))),
      core: pinnedCore(first().pid),
      ...(measured
        ? {
            waitSeconds: () => {
              const pid = waitPidNow();
              return pid === undefined ? Number.NaN : mainThreadWaitSeconds(pid);
            },
          }
        : {}),
    },
    restart,
    stop,
  };
}

/**
 * The report's description of how `spec` is started; `keyed`: the run has scenarios whose requests
 * carry tokens, which a `jwtKey` server then verifies.
 */
export function describeCommand(spec: ServerSpec, keyed = false): string {
  const env = [
    'PORT=<port>',
    ...(spec.redis ? ['SSEHUB_REDIS_URL=redis://127.0.0.1:<redis-port>', 'SSEHUB_REDIS_KEY=<fresh>'] : []),
    ...(spec.tempDir ? ['BENCH_TMP=<fresh temp dir>'] : []),
    ...Object.entries(spec.env ?? {}).map(([k, v]) => `${k}=${v}`),
  ];
  let text = [...env, ...spec.command.map(quote)].join(' ');
  if ((spec.instances ?? 1) > 1) text = `${spec.instances} × \`${text}\``;
  else text = `\`${text}\``;
  if (spec.redis) {
    const redis = redisArgs('<redis-port>', '<temp dir>').map((a) => (a === '' ? "''" : a));
    text = `\`redis-server ${redis.join(' ')}\` + ${text}`;
  }
  if (keyed && spec.jwtKey) text += '; with `SSEHUB_JWT_KEY=<fresh secret>` where requests carry tokens';
  return text;
}

/** The files `spec` writes before it starts, with placeholders for the port and the directory. */
export function describeFiles(spec: ServerSpec): Record<string, string> {
  return spec.files?.({ port: '<port>', dir: '<temp dir>', connections: serverConnections() }) ?? {};
}

/** What `spec.version` prints, or undefined. */
export function versionOf(spec: ServerSpec, root: string): string | undefined {
  if (!spec.version) return undefined;
  try {
    return execFileSync('bash', ['-c', spec.version], {
      cwd: root,
      encoding: 'utf8',
      timeout: 30_000,
    }).trim();
  } catch {
    return undefined;
  }
}

/** Whether `spec` can run from `root`, or why not. */
export function unavailableReason(spec: ServerSpec, root: string): string | undefined {
  for (const need of spec.requires ?? []) {
    const found = existsSync(resolve(root, need)) || (!need.includes('/') && onPath(need));
    if (!found) return `${need} not found`;
  }
  return undefined;
}

/**
 * A throwaway Redis: no RDB snapshots, no AOF, data in `dir`. In the foreground, so that the
 * spawned pid is the server's and SIGTERM stops it (without saving: no save points are set).
 */
function redisArgs(port: string, dir: string): string[] {
  return ['--port', port, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
}

function quote(arg: string): string {
  return /^[\w@%+=:,./-]*$/.test(arg) && arg !== '' ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

function sum(values: Iterable<number>): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}
