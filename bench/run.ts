/**
 * `npm run bench` — starts each server pinned to core 1, drives it from this process pinned to
 * core 0, and writes bench/RESULTS.md.
 *
 * @example
 * npm run bench                                # everything, both servers (~7 min)
 * npm run bench -- --quick                     # smoke run, writes bench/RESULTS.quick.md
 * npm run bench -- --servers=baseline --only=i,ii --duration=10
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
import { machineBusySeconds } from './proc.ts';
import { type Results, type RunInfo, renderReport } from './report.ts';
import { mergeReport, renderSection, SECTIONS } from './report-sections.ts';
import { defaultConfig, runScenario, type ScenarioId } from './scenarios.ts';
import {
  describeCommand,
  launchScript,
  type RunningServer,
  SERVERS,
  type ServerSpec,
  startServer,
  unavailableReason,
  versionOf,
} from './servers.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SCENARIOS: readonly ScenarioId[] = ['i', 'ii', 'iii', 'iv'];
const GENERATOR_CORE = 0;
const SERVER_CORE = 1;

const USAGE = `Usage: npm run bench -- [options]
  --quick                 short smoke run (fewer subscribers, seconds not tens of seconds)
  --servers=hub,baseline  servers to run, in column order (a name twice runs it twice); known:
                          ${SERVERS.map((s) => s.name).join(', ')}
  --only=i,ii,iii,iv      scenarios to run
  --runtimes              the runtimes section: --servers=${SECTIONS.runtimes!.servers.join(',')} --only=i
  --scale-out             the Redis section: --servers=${SECTIONS['scale-out']!.servers.join(',')} --only=i
  --workers               the Workers section: --servers=${SECTIONS.workers!.servers.join(',')} --only=i
                          (a section run replaces only its section of the report; the default run
                          rewrites the rest and keeps the sections; --servers/--only still apply)
  --ref=NAME              column the ratios are computed against (default: baseline, in a section
                          its first server)
  --out=FILE              report path (default bench/RESULTS.md, bench/RESULTS.quick.md with --quick)
  --subscribers=N         subscribers in (i) and (ii)
  --duration=S --warmup=S measured / warm-up seconds in (i) and (ii)
  --sat-rate=N --lat-rate=N  publish rates of (i) and (ii), events/s
  --idle=N                idle subscribers in (iii)
  --ramp-subscribers=N --ramp-start=N --step=S --max-steps=N   (iv)
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
  num('payload', values.payload, (n) => {
    config.payloadBytes = n;
  });

  const chosen = (['runtimes', 'scale-out', 'workers'] as const).filter((id) => values[id]);
  if (chosen.length > 1) throw new Error(`--${chosen.join(', --')} are separate runs`);
  const section = chosen[0];
  const preset = section ? SECTIONS[section] : undefined;
  const only = (values.only ?? (preset ? 'i' : SCENARIOS.join(','))).split(',').map((s) => s.trim());
  const unknown = only.filter((s) => !SCENARIOS.includes(s as ScenarioId));
  if (unknown.length > 0)
    throw new Error(`unknown scenario(s) ${unknown.join(', ')}; pick from ${SCENARIOS.join(',')}`);
  const scenarios = SCENARIOS.filter((s) => only.includes(s));
  const servers = pickServers(values.servers ?? preset?.servers.join(',') ?? 'hub,baseline');
  const reference = values.ref ?? (preset ? servers[0]?.name : undefined);
  if (reference !== undefined && !servers.some((s) => s.name === reference))
    throw new Error(`--ref=${reference} is not one of the servers run`);
  const out = values.out ?? join('bench', values.quick ? 'RESULTS.quick.md' : 'RESULTS.md');

  const nofile = openFileLimit();
  const fdsNeeded = (scenarios.includes('iii') ? config.idle.connections : 0) + 500;
  if (Number.isFinite(nofile) && nofile < fdsNeeded) {
    throw new Error(`open-file limit ${nofile} is below the ${fdsNeeded} needed; lower --idle`);
  }

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
      return {
        name,
        command: describeCommand(spec),
        ...(version ? { version } : {}),
        ...(skipped ? { skipped } : {}),
      };
    }),
    config,
    backgroundLoad,
    ...(reference ? { reference } : {}),
  };
  for (const s of info.servers) if (s.skipped) console.warn(`skipping ${s.name}: ${s.skipped}`);

  const results: Results = new Map();
  for (const id of scenarios) {
    const byServer = new Map<string, Awaited<ReturnType<typeof runScenario>> | Error>();
    results.set(id, byServer);
    for (const { spec, name } of servers) {
      if (unavailableReason(spec, ROOT)) continue;
      console.log(`[${id}] ${name}`);
      try {
        const server = await startServer(spec, {
          root: ROOT,
          core: SERVER_CORE,
          logFile: join(ROOT, 'bench', 'logs', `${name.replace(/\W/g, '_')}-${id}.log`),
        });
        current = server;
        try {
          byServer.set(
            name,
            await runScenario(id, config, server.targets, server.probe, (l) => console.log(`  ${l}`)),
          );
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

function openFileLimit(): number {
  const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  return m ? Number(m[1]) : Number.NaN;
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
