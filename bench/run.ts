/**
 * `npm run bench` — starts each server pinned to core 1, drives it from this process pinned to
 * core 0, and writes bench/RESULTS.md.
 *
 * @example
 * npm run bench                                # everything: hub, nchan, baseline
 * npm run bench -- --quick                     # smoke run, writes bench/RESULTS.quick.md
 * npm run bench -- --servers=baseline --only=i,ii --duration=10
 * npm run bench -- --only=v,vi,vii --servers=hub,nchan   # the crowd scenarios
 * npm run bench -- --runtimes                  # (i) on Node, Bun, Deno, workerd → its section
 * npm run bench -- --scale-out                 # (i) on 1 memory vs 1 and 2 Redis instances → its section
 * npm run bench -- --workers                   # (i) on workerd: 1 hub object vs 4 shards vs 4 shards + 2 relays
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { machineBusySeconds, openFileLimit } from './proc.ts';
import { type Results, type RunInfo, renderReport } from './report.ts';
import { mergeReport, renderSection, SECTIONS } from './report-sections.ts';
import { defaultConfig, runScenario, SCENARIOS, type ScenarioId, WITH_TOKENS } from './scenarios.ts';
import {
  describeCommand,
  describeFiles,
  launchScript,
  type RunningServer,
  SERVERS,
  type ServerSpec,
  startServer,
  unavailableReason,
  versionOf,
} from './servers.ts';
import { freshKey } from './tokens.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const GENERATOR_CORE = 0;
const SERVER_CORE = 1;

const USAGE = `Usage: npm run bench -- [options]
  --quick                 short smoke run (fewer subscribers, seconds not tens of seconds)
  --servers=hub,nchan,baseline  servers to run, in column order (a name twice runs it twice); known:
                          ${SERVERS.map((s) => s.name).join(', ')}
  --only=i,ii,…,vii       scenarios to run (default: all)
  --runtimes              the runtimes section: --servers=${SECTIONS.runtimes!.servers.join(',')}
                          --only=${SECTIONS.runtimes!.scenarios!.join(',')} ((v)–(vii) on hub, bun, deno only)
  --scale-out             the Redis section: --servers=${SECTIONS['scale-out']!.servers.join(',')} --only=i
  --workers               the Workers section: --servers=${SECTIONS.workers!.servers.join(',')} --only=i
                          (a section run replaces only its section of the report; the default run
                          rewrites the rest and keeps the sections; --servers/--only still apply)
  --ref=NAME[,NAME]       columns the ratios are computed against (default: baseline,nchan; in a
                          section its first server, and nchan if run)
  --out=FILE              report path (default bench/RESULTS.md, bench/RESULTS.quick.md with --quick)
  --subscribers=N         subscribers in (i) and (ii)
  --duration=S --warmup=S measured / warm-up seconds in (i) and (ii)
  --sat-rate=N --lat-rate=N  publish rates of (i) and (ii), events/s
  --idle=N                idle subscribers in (iii)
  --ramp-subscribers=N --ramp-start=N --step=S --max-steps=N   (iv)
  --storm=N               subscribers opening at once in (v)
  --reconnect=N --reconnect-rate=N   subscribers and publish rate (events/s) of (vi)
  --crowd=N               idle subscribers asked for in (vii) (held: as many as the open-file limit allows)
  --heartbeat-window=S    seconds without publishing in (vii) (default 45: three 15 s heartbeats)
  --payload=BYTES         event data size (default 512)
  --quiet-wait=S          wait up to S seconds for other load on the machine to fade (default 60)
  --nice=N                run harness and servers at this niceness, in their own autogroup
                          (e.g. -20 on a machine shared with other sessions)`;

const OPTIONS = {
  quick: { type: 'boolean', default: false },
  help: { type: 'boolean', default: false },
  servers: { type: 'string' },
  only: { type: 'string' },
  runtimes: { type: 'boolean', default: false },
  'scale-out': { type: 'boolean', default: false },
  workers: { type: 'boolean', default: false },
  ref: { type: 'string' },
  out: { type: 'string' },
  subscribers: { type: 'string' },
  duration: { type: 'string' },
  warmup: { type: 'string' },
  'sat-rate': { type: 'string' },
  'lat-rate': { type: 'string' },
  idle: { type: 'string' },
  'ramp-subscribers': { type: 'string' },
  'ramp-start': { type: 'string' },
  step: { type: 'string' },
  'max-steps': { type: 'string' },
  storm: { type: 'string' },
  reconnect: { type: 'string' },
  'reconnect-rate': { type: 'string' },
  crowd: { type: 'string' },
  'heartbeat-window': { type: 'string' },
  payload: { type: 'string' },
  'quiet-wait': { type: 'string', default: '60' },
  nice: { type: 'string', default: '0' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>['values'];

/** The server being measured, so that a signal can stop it instead of orphaning it. */
let current: RunningServer | undefined;

async function main(values: Values, nice: number): Promise<void> {
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const config = defaultConfig(values.quick);
  const num = (flag: string, v: string | undefined, apply: (n: number) => void) => {
    if (v === undefined) return;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0)
      throw new Error(`--${flag} wants a positive number, got ${JSON.stringify(v)}`);
    apply(n);
  };
  num('subscribers', values.subscribers, (n) => {
    config.saturation.subscribers = n;
    config.latency.subscribers = n;
  });
  num('duration', values.duration, (n) => {
    config.saturation.durationMs = n * 1000;
    config.latency.durationMs = n * 1000;
  });
  num('warmup', values.warmup, (n) => {
    config.saturation.warmupMs = n * 1000;
    config.latency.warmupMs = n * 1000;
  });
  num('sat-rate', values['sat-rate'], (n) => {
    config.saturation.rate = n;
  });
  num('lat-rate', values['lat-rate'], (n) => {
    config.latency.rate = n;
  });
  num('idle', values.idle, (n) => {
    config.idle.connections = n;
  });
  num('ramp-subscribers', values['ramp-subscribers'], (n) => {
    config.ramp.subscribers = n;
  });
  num('ramp-start', values['ramp-start'], (n) => {
    config.ramp.startRate = n;
  });
  num('step', values.step, (n) => {
    config.ramp.durationMs = n * 1000;
  });
  num('max-steps', values['max-steps'], (n) => {
    config.ramp.maxSteps = n;
  });
  num('storm', values.storm, (n) => {
    config.connectStorm.subscribers = n;
  });
  num('reconnect', values.reconnect, (n) => {
    config.reconnectStorm.subscribers = n;
  });
  num('reconnect-rate', values['reconnect-rate'], (n) => {
    config.reconnectStorm.rate = n;
  });
  num('crowd', values.crowd, (n) => {
    config.idleCrowd.connections = n;
  });
  num('heartbeat-window', values['heartbeat-window'], (n) => {
    config.idleCrowd.heartbeatWindowMs = n * 1000;
  });
  num('payload', values.payload, (n) => {
    config.payloadBytes = n;
  });

  const chosen = (['runtimes', 'scale-out', 'workers'] as const).filter((id) => values[id]);
  if (chosen.length > 1) throw new Error(`--${chosen.join(', --')} are separate runs`);
  const section = chosen[0];
  const preset = section ? SECTIONS[section] : undefined;
  const only = (values.only ?? (preset?.scenarios ?? (preset ? ['i'] : SCENARIOS)).join(','))
    .split(',')
    .map((s) => s.trim());
  const unknown = only.filter((s) => !SCENARIOS.includes(s as ScenarioId));
  if (unknown.length > 0)
    throw new Error(`unknown scenario(s) ${unknown.join(', ')}; pick from ${SCENARIOS.join(',')}`);
  const scenarios = SCENARIOS.filter((s) => only.includes(s));
  const servers = pickServers(values.servers ?? preset?.servers.join(',') ?? 'hub,nchan,baseline');
  const references = values.ref?.split(',').map((r) => r.trim()) ?? [
    ...(preset ? [servers[0]!.name] : ['baseline']),
    'nchan',
  ];
  for (const ref of values.ref ? references : [])
    if (!servers.some((s) => s.name === ref)) throw new Error(`--ref=${ref} is not one of the servers run`);
  const out = values.out ?? join('bench', values.quick ? 'RESULTS.quick.md' : 'RESULTS.md');

  // (vii) holds as many as the limit allows and says so; the others need all they ask for.
  const nofile = openFileLimit();
  const needs: [ScenarioId, number, string][] = [
    ['iii', config.idle.connections, '--idle'],
    ['v', config.connectStorm.subscribers, '--storm'],
    ['vi', config.reconnectStorm.subscribers, '--reconnect'],
  ];
  for (const [id, connections, flag] of needs) {
    if (scenarios.includes(id) && Number.isFinite(nofile) && nofile < connections + 500)
      throw new Error(
        `open-file limit ${nofile} is below the ${connections + 500} (${id}) needs; lower ${flag}`,
      );
  }
  const key = freshKey();
  const keyed = scenarios.some((id) => WITH_TOKENS.has(id));

  const backgroundLoad = await waitForQuiet(Number(values['quiet-wait']));
  const info: RunInfo = {
    date: new Date(),
    command: commandLine(),
    machine: describeMachine(),
    node: process.version,
    nofile: String(nofile),
    nice,
    servers: servers.map(({ spec, name }) => {
      const skipped = unavailableReason(spec, ROOT);
      const version = skipped ? undefined : versionOf(spec, ROOT);
      const files = describeFiles(spec);
      return {
        name,
        command: describeCommand(spec, keyed),
        ...(version ? { version } : {}),
        ...(skipped ? { skipped } : {}),
        ...(Object.keys(files).length > 0 ? { files } : {}),
      };
    }),
    config,
    backgroundLoad,
    references,
  };
  for (const s of info.servers) if (s.skipped) console.warn(`skipping ${s.name}: ${s.skipped}`);

  const results: Results = new Map();
  for (const id of scenarios) {
    const byServer = new Map<string, Awaited<ReturnType<typeof runScenario>> | Error>();
    results.set(id, byServer);
    const only = preset?.scenarioServers?.[id];
    for (const { spec, name } of servers) {
      if (unavailableReason(spec, ROOT)) continue;
      if (only && !only.includes(spec.name)) continue;
      console.log(`[${id}] ${name}`);
      try {
        const verifiesTokens = WITH_TOKENS.has(id) && Boolean(spec.jwtKey);
        const server = await startServer(spec, {
          root: ROOT,
          core: SERVER_CORE,
          logFile: join(ROOT, 'bench', 'logs', `${name.replace(/\W/g, '_')}-${id}.log`),
          ...(verifiesTokens ? { env: { SSEHUB_JWT_KEY: key } } : {}),
        });
        current = server;
        try {
          const target = { ...server, restart: () => server.restart(), key, verifiesTokens };
          byServer.set(name, await runScenario(id, config, target, (l) => console.log(`  ${l}`)));
        } finally {
          current = undefined;
          await server.stop();
        }
      } catch (e) {
        console.error(`  ${name} failed: ${(e as Error).message}`);
        byServer.set(name, e as Error);
      }
    }
    // Write after every scenario so an interrupted run still leaves its numbers behind.
    const file = resolve(ROOT, out);
    const existing = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
    writeFileSync(
      file,
      mergeReport(
        existing,
        section
          ? { section: { id: section, text: renderSection(section, info, results) } }
          : { main: renderReport(info, results) },
      ),
    );
  }
  console.log(`wrote ${relative(process.cwd(), resolve(ROOT, out))}`);
}

/** Resolves `--servers`, naming a repeated server `name#2`, `name#3`, … */
function pickServers(list: string): { spec: ServerSpec; name: string }[] {
  const seen = new Map<string, number>();
  return list.split(',').map((raw) => {
    const base = raw.trim();
    const spec = SERVERS.find((s) => s.name === base);
    if (!spec) throw new Error(`unknown server ${base}; known: ${SERVERS.map((s) => s.name).join(', ')}`);
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    return { spec, name: n === 1 ? base : `${base}#${n}` };
  });
}

/**
 * Samples whole-machine CPU for 2 s (nothing of ours runs yet); while something else keeps more
 * than 15 % of a core busy, waits up to `maxSeconds` for it to go away. Returns what it last saw.
 */
async function waitForQuiet(maxSeconds: number): Promise<string> {
  const deadline = performance.now() + maxSeconds * 1000;
  for (;;) {
    const busy0 = machineBusySeconds();
    const self0 = process.cpuUsage();
    await sleep(2000);
    const self = process.cpuUsage(self0);
    const pct = ((machineBusySeconds() - busy0 - (self.user + self.system) / 1e6) / 2) * 100;
    const text = `${pct.toFixed(0)} % of one core (of ${os.cpus().length * 100} %)`;
    if (!(pct > 15)) return text;
    if (performance.now() > deadline) {
      console.warn(`other processes keep ${text} busy; measuring anyway — see "other load" in the report`);
      return `${text} — **the machine was not quiet**`;
    }
    console.warn(`other processes keep ${text} busy; waiting for them`);
  }
}

function describeMachine(): string {
  const cpus = os.cpus();
  const gib = (os.totalmem() / 2 ** 30).toFixed(0);
  return `${cpus.length} cores (${cpus[0]?.model ?? 'unknown'}), ${gib} GiB RAM, Linux ${os.release()}`;
}

function commandLine(): string {
  const args = process.argv.slice(2).join(' ');
  if (process.env.npm_lifecycle_event === 'bench') return `npm run bench${args ? ` -- ${args}` : ''}`;
  return `tsx bench/run.ts${args ? ` ${args}` : ''}`;
}

/**
 * Re-runs this script through bash so it gets the raised open-file limit, core 0 and the requested
 * niceness for all its threads; Node cannot set those for itself.
 */
function reexecPinned(nice: number): void {
  const child = spawn(
    'bash',
    [
      '-c',
      // Servers are spawned from the re-executed process and inherit its niceness.
      launchScript({ core: GENERATOR_CORE, nice }),
      'bash',
      process.execPath,
      '--import',
      'tsx',
      fileURLToPath(import.meta.url),
      ...process.argv.slice(2),
    ],
    // A new session gets its own autogroup, whose priority launchScript can then raise.
    { cwd: ROOT, stdio: 'inherit', detached: nice !== 0, env: { ...process.env, SSEHUB_BENCH_PINNED: '1' } },
  );
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

function parseNice(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < -20 || n > 19)
    throw new Error(`--nice wants an integer in -20..19, got ${v}`);
  return n;
}

try {
  const { values } = parseArgs({ options: OPTIONS });
  const nice = parseNice(values.nice);
  if (process.env.SSEHUB_BENCH_PINNED !== '1') {
    reexecPinned(nice);
  } else {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.on(signal, () => {
        console.error(`${signal}: stopping`);
        void (current?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
      });
    }
    main(values, nice).then(
      () => process.exit(0),
      (e: unknown) => {
        console.error(e instanceof Error ? e.message : e);
        process.exit(1);
      },
    );
  }
} catch (e) {
  console.error(`${(e as Error).message}\n\n${USAGE}`);
  process.exit(2);
}
