/** Renders RESULTS.md: one table per scenario, servers side by side, ratios against the references. */
import type { LoadResult } from './loadgen.ts';
import { CROWD_TITLES, crowdNotes } from './report-crowds.ts';
import { clamped, fixed, int, type Row, table } from './report-table.ts';
import {
  type BenchConfig,
  bottleneck,
  CONTENDED_PERCENT,
  GENERATOR_BUSY_PERCENT,
  SCENARIOS,
  type ScenarioId,
  type ScenarioResult,
  SERVER_BUSY_PERCENT,
} from './scenarios.ts';

export interface RunInfo {
  date: Date;
  command: string;
  machine: string;
  node: string;
  nofile: string;
  nice: number;
  servers: {
    name: string;
    command: string;
    version?: string;
    skipped?: string;
    /** Files it writes before it starts (its configuration), by name. */
    files?: Record<string, string>;
  }[];
  config: BenchConfig;
  backgroundLoad: string;
  /**
   * The columns ratios are computed against, in order (every other server gets a ratio against
   * each): default `baseline` and `nchan`, in a section its first server.
   */
  references: readonly string[];
}

/** Results by scenario, then by server name (in column order). */
export type Results = Map<ScenarioId, Map<string, ScenarioResult | Error>>;

/** Rows shared by the two publish-and-fan-out scenarios. */
export function loadRows(): Row[] {
  const L =
    (f: (l: LoadResult) => number | string): Row['cell'] =>
    (r) =>
      r.kind === 'load' ? f(r.load) : undefined;
  return [
    { label: 'subscribers', better: 'none', cell: L((l) => l.subscribers), format: int },
    { label: 'publish rate offered (events/s)', better: 'none', cell: L((l) => l.rate), format: int },
    {
      label: 'publish rate achieved (events/s)',
      better: 'higher',
      cell: L((l) => l.published / l.windowSeconds),
      format: fixed(1),
    },
    { label: '**delivered events/s**', better: 'higher', cell: L((l) => l.deliveredPerSecond), format: int },
    {
      label: '**server CPU per delivered event (µs)**',
      better: 'lower',
      cell: L((l) => l.serverCpuMicrosPerEvent),
      format: fixed(2),
    },
    {
      label: 'server CPU use (% of its core)',
      better: 'none',
      cell: L((l) => (l.serverCpuSeconds / l.windowSeconds) * 100),
      format: fixed(0),
    },
    { label: 'latency p50 (ms)', better: 'lower', cell: L((l) => l.latencyMs.p50), format: fixed(2) },
    { label: 'latency p99 (ms)', better: 'lower', cell: L((l) => l.latencyMs.p99), format: fixed(2) },
    { label: 'latency max (ms)', better: 'lower', cell: L((l) => l.latencyMs.max), format: fixed(1) },
    { label: 'lost (subscriber × event)', better: 'none', cell: L((l) => l.lost), format: int },
    {
      label: 'duplicates / out of order',
      better: 'none',
      cell: L((l) => `${l.duplicates} / ${l.outOfOrder}`),
    },
    { label: 'reordered concurrent publishes', better: 'none', cell: L((l) => l.reordered), format: int },
    { label: 'server-closed connections', better: 'none', cell: L((l) => l.serverClosed), format: int },
    {
      label: 'publishes failed / not sent in time',
      better: 'none',
      cell: L((l) => `${l.publishFailed} / ${l.unsent}`),
    },
    {
      label: 'server RSS at end (MiB)',
      better: 'lower',
      cell: L((l) => l.serverRssBytes / 2 ** 20),
      format: fixed(0),
    },
    {
      label: '**RSS per connection under load (KiB)**',
      better: 'lower',
      cell: L((l) => l.rssPerConnectionBytes / 1024),
      format: fixed(1),
    },
    {
      label: 'generator CPU (% of core 0)',
      better: 'none',
      cell: L((l) => l.generatorCpuPercent),
      format: fixed(0),
    },
    {
      label: 'generator event-loop delay p99 (ms)',
      better: 'none',
      cell: L((l) => l.generatorLoopDelayP99Ms),
      format: fixed(1),
    },
    {
      label: 'generator CPU per delivered event (µs)',
      better: 'none',
      cell: L((l) => (l.generatorCpuPercent * 1e4) / l.deliveredPerSecond),
      format: fixed(2),
    },
    { label: 'bottleneck', better: 'none', cell: L((l) => bottleneck(l)) },
    {
      label: 'other processes on the server / generator core (%)',
      better: 'none',
      cell: L((l) => `${clamped(l.otherOnServerCorePercent)} / ${clamped(l.otherOnGeneratorCorePercent)}`),
    },
    {
      label: 'server / generator event loop kept waiting for its core (%)',
      better: 'none',
      cell: L((l) => `${fixed(1)(l.serverWaitPercent)} / ${fixed(1)(l.generatorWaitPercent)}`),
    },
  ];
}

function idleRows(): Row[] {
  const I =
    (f: (i: Extract<ScenarioResult, { kind: 'idle' }>['idle']) => number | string): Row['cell'] =>
    (r) =>
      r.kind === 'idle' ? f(r.idle) : undefined;
  return [
    { label: 'idle subscribers', better: 'none', cell: I((i) => i.connections), format: int },
    {
      label: 'server RSS before (MiB)',
      better: 'lower',
      cell: I((i) => i.rssBeforeBytes / 2 ** 20),
      format: fixed(1),
    },
    {
      label: 'server RSS after (MiB)',
      better: 'lower',
      cell: I((i) => i.rssAfterBytes / 2 ** 20),
      format: fixed(1),
    },
    {
      label: '**RSS per idle connection (KiB)**',
      better: 'lower',
      cell: I((i) => i.rssPerConnectionBytes / 1024),
      format: fixed(2),
    },
    { label: 'time to open all (s)', better: 'lower', cell: I((i) => i.openSeconds), format: fixed(2) },
    {
      label: 'subscribers reached by a publish',
      better: 'none',
      cell: I((i) => `${i.reachable} / ${i.connections}`),
    },
    { label: 'server-closed connections', better: 'none', cell: I((i) => i.serverClosed), format: int },
    {
      label: 'generator CPU while opening (%)',
      better: 'none',
      cell: I((i) => i.generatorCpuPercent),
      format: fixed(0),
    },
  ];
}

function rampRows(): Row[] {
  const R =
    (f: (r: Extract<ScenarioResult, { kind: 'ramp' }>['ramp']) => number | string | undefined): Row['cell'] =>
    (r) =>
      r.kind === 'ramp' ? f(r.ramp) : undefined;
  return [
    {
      label: '**highest sustained publish rate (events/s)**',
      better: 'higher',
      cell: R((r) => r.bestRate),
      format: int,
    },
    {
      label: '… as delivered events/s',
      better: 'higher',
      cell: R((r) => r.best?.deliveredPerSecond),
      format: int,
    },
    {
      label: 'lowest failing rate tried (events/s)',
      better: 'none',
      cell: R((r) => r.failedRate ?? 'none'),
      format: int,
    },
    {
      label: 'server CPU per delivered event at best (µs)',
      better: 'lower',
      cell: R((r) => r.best?.serverCpuMicrosPerEvent),
      format: fixed(2),
    },
    {
      label: 'latency p99 at best (ms)',
      better: 'lower',
      cell: R((r) => r.best?.latencyMs.p99),
      format: fixed(2),
    },
    {
      label: 'server CPU use at best (%)',
      better: 'none',
      cell: R((r) => r.best?.serverCpuPercent),
      format: fixed(0),
    },
    {
      label: 'generator CPU at best (%)',
      better: 'none',
      cell: R((r) => r.best?.generatorCpuPercent),
      format: fixed(0),
    },
    { label: 'generator-limited?', better: 'none', cell: R((r) => (r.generatorLimited ? '**yes**' : 'no')) },
    { label: 'steps', better: 'none', cell: R((r) => r.steps.length), format: int },
  ];
}

/** Title, rows and description of each scenario, and paragraphs on how to read its table. */
export const TITLES: Record<
  ScenarioId,
  { title: string; rows: () => Row[]; describe: (c: BenchConfig) => string; reading?: readonly string[] }
> = {
  i: {
    title: '(i) Saturation',
    rows: loadRows,
    describe: (c) =>
      `${c.saturation.subscribers} subscribers on one topic; the publisher offers ${c.saturation.rate} events/s of ` +
      `${c.payloadBytes} B for ${c.saturation.durationMs / 1000} s after ${c.saturation.warmupMs / 1000} s of warm-up. ` +
      'It is closed-loop (at most 16 requests in flight), so a server that cannot keep up answers slower and the ' +
      'achieved rate drops instead of a backlog piling up. RSS per connection under load: RSS at the end of the ' +
      `window minus RSS before the subscribers opened (read after a warm-up burst and ${c.idle.settleMs / 1000} s ` +
      'of rest), ÷ subscribers.',
  },
  ii: {
    title: '(ii) Latency',
    rows: loadRows,
    describe: (c) =>
      `${c.latency.subscribers} subscribers, ${c.latency.rate} events/s of ${c.payloadBytes} B for ` +
      `${c.latency.durationMs / 1000} s after ${c.latency.warmupMs / 1000} s of warm-up. Latency is publish (request written) ` +
      '→ event parsed by the subscriber, on one clock.',
  },
  iii: {
    title: '(iii) Idle connections',
    rows: idleRows,
    describe: (c) =>
      `${c.idle.connections} subscribers that receive nothing. RSS (VmRSS) after a warm-up burst and ` +
      `${c.idle.settleMs / 1000} s of rest, then again ${c.idle.settleMs / 1000} s after opening them all; one event is ` +
      'published afterwards to check that every connection is a live subscription.',
  },
  iv: {
    title: '(iv) Highest sustained publish rate',
    rows: rampRows,
    describe: (c) =>
      `${c.ramp.subscribers} subscribers. Steps of ${c.ramp.warmupMs / 1000} s warm-up + ${c.ramp.durationMs / 1000} s ` +
      `measured, doubling from ${c.ramp.startRate} events/s until a step fails, then bisecting to within ` +
      `${Math.round((c.ramp.precision - 1) * 100)} %. Sustained = every subscriber got every event, delivered ≥ 99 % ` +
      'of offered, p99 < 1 s, no publish failed, no connection closed, no duplicate or out-of-order event.',
  },
  ...CROWD_TITLES,
};

/** The whole RESULTS.md. */
export function renderReport(info: RunInfo, results: Results): string {
  const out: string[] = [];
  out.push('# Benchmark results', '');
  out.push(`- **Date:** ${info.date.toISOString()}`);
  out.push(`- **Machine:** ${info.machine}; Node ${info.node}`);
  out.push(`- **Command:** \`${info.command}\``);
  out.push(
    '- **Placement:** each server runs alone on core 1 (`taskset -c 1`), the load generator (this harness) on ' +
      `core 0; open-file limit ${info.nofile}${info.nice !== 0 ? `; both at \`nice -n ${info.nice}\` in their own autogroup` : ''}. ` +
      'A fresh server process per scenario.',
  );
  out.push(`- **Background load before the run:** ${info.backgroundLoad}`);
  out.push('- **Servers:**');
  out.push(...serverList(info));
  out.push('');
  out.push(...serverFiles(info));
  out.push(
    'Server CPU is utime + stime from `/proc/<pid>/stat` over the measurement window, divided by the events ' +
      'delivered in it, so it does not depend on how fast the generator is. "Other processes on the server / ' +
      'generator core" is the busy time of each pinned core (`/proc/stat`: user + nice + system + steal) minus the ' +
      'CPU time of what we pinned there; they may use idle time harmlessly. The harm is measured directly: how long ' +
      "the server's and the generator's main thread were runnable but not running (`schedstat`); above " +
      `${CONTENDED_PERCENT} % a result is flagged, because throughput and latency are then understated (CPU per ` +
      'event much less so). "Bottleneck" names the side that was near a full core: the server at ≥ ' +
      `${SERVER_BUSY_PERCENT} % of it, the generator at ≥ ${GENERATOR_BUSY_PERCENT} %.`,
    '',
  );

  const missing = SCENARIOS.filter((id) => !results.has(id));
  if (missing.length > 0) {
    out.push(
      `Not in this run: ${missing.map((id) => TITLES[id].title.split(' ')[0]).join(', ')}; their last results are ` +
        'in the history of this file (`git log -p bench/RESULTS.md`).',
      '',
    );
  }

  for (const [id, byServer] of results) {
    const meta = TITLES[id];
    out.push(`## ${meta.title}`, '', meta.describe(info.config), '');
    out.push(...table(meta.rows(), byServer, info.references));
    if (id === 'iv') out.push('', ...rampLog(byServer));
    const notes = notesFor(byServer);
    if (notes.length > 0) out.push('', ...notes);
    for (const paragraph of meta.reading ?? []) out.push('', paragraph);
    out.push('');
  }
  return out.join('\n');
}

/** The configuration files servers write before they start (Nchan's nginx.conf), as code blocks. */
export function serverFiles(info: RunInfo): string[] {
  const out: string[] = [];
  for (const s of info.servers) {
    for (const [file, text] of Object.entries(s.files ?? {})) {
      out.push(
        `\`${s.name}\` writes \`${file}\` into its temporary directory (placeholders in angle brackets):`,
        '',
      );
      out.push('```nginx', text.trimEnd(), '```', '');
    }
  }
  return out;
}

/** The "Servers:" list: name, version when known, command, and why it was skipped. */
export function serverList(info: RunInfo): string[] {
  return info.servers.map(
    (s) =>
      `  - \`${s.name}\`${s.version ? ` (${s.version})` : ''}: ${s.command}` +
      `${s.skipped ? ` — **skipped: ${s.skipped}**` : ''}`,
  );
}

function rampLog(byServer: Map<string, ScenarioResult | Error>): string[] {
  const out: string[] = [];
  for (const [name, r] of byServer) {
    if (r instanceof Error || r.kind !== 'ramp') continue;
    out.push(
      `Steps for \`${name}\` (publish rate → outcome; delivered/s, µs CPU/event, p99, generator CPU):`,
      '',
    );
    for (const s of r.ramp.steps) {
      const l = s.load;
      out.push(
        `- ${int(s.rate)}/s → ${s.failures.length === 0 ? 'sustained' : s.failures.join(', ')}; ` +
          `${int(l.deliveredPerSecond)}/s, ${fixed(2)(l.serverCpuMicrosPerEvent)} µs, ` +
          `p99 ${fixed(1)(l.latencyMs.p99)} ms, generator ${fixed(0)(l.generatorCpuPercent)} %`,
      );
    }
    out.push('');
  }
  return out;
}

/** Failures, errors and warnings (generator-limited, contended) under a table. */
export function notesFor(byServer: Map<string, ScenarioResult | Error>): string[] {
  const notes: string[] = [];
  for (const [name, r] of byServer) {
    if (r instanceof Error) {
      notes.push(`- \`${name}\` failed: ${r.message.split('\n')[0]}`);
      continue;
    }
    const loads = r.kind === 'load' ? [r.load] : r.kind === 'ramp' ? r.ramp.steps.map((s) => s.load) : [];
    const errors = new Set(loads.flatMap((l) => l.errors));
    for (const e of [...errors].slice(0, 5)) notes.push(`- \`${name}\`: ${e}`);
    notes.push(...crowdNotes(name, r));
    if (r.kind !== 'load') continue;
    if (bottleneck(r.load).startsWith('generator')) {
      notes.push(
        `- \`${name}\`: **the generator used ${r.load.generatorCpuPercent.toFixed(0)} % of its core while the server ` +
          `used ${r.load.serverCpuPercent.toFixed(0)} % — the generator may be the limit.**`,
      );
    }
    // NaN where not measured (a server of several processes): the other side still counts.
    const wait = Math.max(
      ...[r.load.serverWaitPercent, r.load.generatorWaitPercent].filter((n) => Number.isFinite(n)),
    );
    if (wait > CONTENDED_PERCENT) {
      notes.push(
        `- \`${name}\`: **contended: an event loop was kept waiting for its core ${wait.toFixed(0)} % of the ` +
          'window — throughput and latency are understated (CPU per event much less so).**',
      );
    }
  }
  return notes;
}
