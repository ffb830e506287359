/**
 * The sections of RESULTS.md that come from runs of their own (`--runtimes`, `--scale-out`), and
 * the merge that keeps one coherent file: the default run rewrites the main part and keeps the
 * sections; a section run replaces only its section. Each section names its own date and command.
 */
import type { LoadResult } from './loadgen.ts';
import { loadRows, notesFor, type Results, type RunInfo, serverList, TITLES } from './report.ts';
import { type Row, table } from './report-table.ts';
import type { ScenarioId } from './scenarios.ts';

/** A section: what it shows and how to read it. */
export interface SectionSpec {
  title: string;
  /** The servers `--<section>` runs, in column order; the first is the ratios' reference. */
  servers: readonly string[];
  /** The scenarios `--<section>` runs (default: (i) only). */
  scenarios?: readonly ScenarioId[];
  /** Scenarios that run on some of the servers only: on these. */
  scenarioServers?: Partial<Record<ScenarioId, readonly string[]>>;
  /** Where each process runs (replaces the main report's placement line). */
  placement: string;
  /** Paragraphs after the tables: what the columns are and what to keep in mind. */
  reading: readonly string[];
}

/** Every section, in the order they appear in the file. */
export const SECTIONS: Readonly<Record<string, SectionSpec>> = {
  runtimes: {
    title: 'Runtimes: Node, Bun, Deno and workerd',
    servers: ['hub', 'bun', 'deno', 'deno-uncapped', 'workerd', 'wrangler-dev'],
    scenarios: ['i', 'v', 'vi', 'vii'],
    scenarioServers: { v: ['hub', 'bun', 'deno'], vi: ['hub', 'bun', 'deno'], vii: ['hub', 'bun', 'deno'] },
    placement:
      'each server alone on core 1 (`taskset -c 1`) with every process it starts, the load generator on core 0.',
    reading: [
      '`hub` is the Node entry as `npm start` runs it (`src/runtimes/cli.ts` built to `dist/runtimes/cli.js`); `bun` and `deno` run `src/runtimes/bun-cli.ts` and ' +
        '`src/runtimes/deno-cli.ts`: the same hub code with the same settings (heartbeat 15 s, history in SQLite in a fresh directory). ' +
        "`hub` and `deno` cap V8's young generation (`--max-semi-space-size=2` on Node, `--v8-flags=--max-semi-space-size=4` " +
        'on Deno), as their start scripts do; `deno-uncapped` is `deno` without the cap, to show what it buys and costs there. ' +
        '`workerd` is the Workers entry (`src/runtimes/cloudflare.ts`, bundled as the tests bundle it, ' +
        'compatibility settings from wrangler.toml) in one workerd process started through miniflare ' +
        '(`bench/workerd-direct.ts`, no wrangler): the Worker forwards every request to the hub Durable Object, ' +
        'which runs the same hub code and also writes every update to its SQLite storage (history that survives ' +
        "a restart). miniflare's own entry worker sits in front of the Worker inside that process; the node " +
        'process that started it stays idle and is counted anyway.',
      '`wrangler-dev` is what `npm run dev:worker` runs, `wrangler dev --local`, measured as it is. It puts an ' +
        'extra hop in front that production does not have: a proxy workerd on the public port (`workerd (proxy)`), ' +
        'so every request and every byte of every stream crosses one more process. Worse, wrangler keeps a ' +
        'DevTools session on the Worker with network inspection on and relays each inspector event — a ' +
        '`Network.dataReceived` for every chunk written to every subscriber — to its node process as an HTTP ' +
        'request: at 1,000 subscribers, 1,000 requests per published event. That column measures the development ' +
        'tooling, not workerd; it is here as a warning against benchmarking through `wrangler dev`.',
      'Neither is production: on Cloudflare the edge terminates the connections and forwards them to the ' +
        'object, which is one thread, on a machine that is not this one. Where a server keeps up with the ' +
        'offered load, delivered events/s are equal and CPU per delivered event and latency tell the runtimes ' +
        'apart. CPU is summed over all threads of all processes of a server. When a server is several busy ' +
        "processes, the run-queue wait is not reported (they wait for each other); 'other processes on the " +
        "server core' still measures outside load.",
      'The crowd scenarios (v)–(vii) run on `hub`, `bun` and `deno`: one process each, started with the run’s ' +
        '`SSEHUB_JWT_KEY` like the Node entry, the same hub code verifying every token. The Workers entries are ' +
        'left out: their settings are bindings, a restart of a Durable Object is the platform’s to make, and on ' +
        'Cloudflare the edge, not the object, holds the connections.',
    ],
  },
  'scale-out': {
    title: 'Scale-out: two instances behind Redis vs one with the memory broker',
    servers: ['hub', 'redis1', 'redis2'],
    placement:
      'every server-side process on core 1 — the single memory-broker instance, or redis-server plus the hub ' +
      'instances together — and the load generator alone on core 0. The comparison is at the same CPU budget: ' +
      'one core for everything the hub needs. On two cores there is no other fair placement; with more, each ' +
      'instance would get a core of its own and Redis another.',
    reading: [
      '`hub`: one instance, memory broker. `redis2`: a private `redis-server` and two hub instances on it ' +
        '(`SSEHUB_REDIS_URL`, one fresh `SSEHUB_REDIS_KEY`); subscribers alternate between the instances ' +
        '(half on each) and so do publishes (round-robin, in sequence). Every event is appended to the Redis stream by ' +
        'the instance that took it (`XADD`), read back by both instances (`XREAD BLOCK`) and fanned out by each to ' +
        'its own subscribers; loss, duplicates and order are counted end to end, per subscriber, as for one ' +
        'instance. `redis1` is one instance on Redis: the hop alone, without a second process.',
      'CPU per delivered event sums every server-side process — the hubs and redis-server — and the "by ' +
        'process" row splits it. Redis adds a round trip before a publish is answered, a stream read by every ' +
        'instance and the work of redis-server itself; the fan-out, the bulk of the cost at 1,000 subscribers, is ' +
        'the same work split in two. Batching cuts both ways: an `XREAD` returns every entry appended since the ' +
        'previous one and the dispatcher writes them to each subscriber together, so under load an instance on ' +
        'Redis can spend less CPU per event than one on the memory broker (which fans out once per event-loop ' +
        'turn), while every event waits for the read loop. With everything on one core the instances and ' +
        'redis-server also take turns on it, which shows in latency.',
    ],
  },
  workers: {
    title: 'Workers past one object: one hub object vs 4 shards vs 4 shards and 2 relays',
    servers: ['workerd', 'workerd-4shards', 'workerd-4x2relays'],
    placement:
      'one workerd process (miniflare, `bench/workerd-direct.ts`) on core 1 holding the Worker and every ' +
      'Durable Object, the load generator on core 0.',
    reading: [
      '`workerd` is the default topology: every request goes to the one hub object. `workerd-4shards` sets ' +
        '`SSEHUB_SHARDS=4`: the Worker parses each publish to route it, the one topic of the scenario lives in ' +
        'one shard, and its subscribers connect straight to that shard. `workerd-4x2relays` adds ' +
        '`SSEHUB_RELAYS=2`: subscribers are spread over two relay objects, each follows the shard with one ' +
        'feed, so the shard writes every update twice and each relay fans it out to its half.',
      'On one machine every object shares one workerd process and one core: this shows what the topology ' +
        'costs per delivered event, not what it gains. On Cloudflare each object is a thread of its own, ' +
        'wherever the platform puts it; docs/workers-scaling.md turns these per-object figures into a ' +
        'capacity model.',
    ],
  },
};

/** Rows of a section table: the headline figures and the checks, plus CPU by process. */
function sectionRows(): Row[] {
  const keep = new Set([
    'subscribers',
    'publish rate achieved (events/s)',
    '**delivered events/s**',
    '**server CPU per delivered event (µs)**',
    'server CPU use (% of its core)',
    'latency p50 (ms)',
    'latency p99 (ms)',
    'lost (subscriber × event)',
    'duplicates / out of order',
    'server-closed connections',
    'publishes failed / not sent in time',
    'server RSS at end (MiB)',
    '**RSS per connection under load (KiB)**',
    'generator CPU (% of core 0)',
    'bottleneck',
    'other processes on the server / generator core (%)',
    'server / generator event loop kept waiting for its core (%)',
  ]);
  const rows = loadRows().filter((r) => keep.has(r.label));
  const at = rows.findIndex((r) => r.label === 'server CPU use (% of its core)');
  rows.splice(at + 1, 0, {
    label: '… by process (µs per delivered event)',
    better: 'none',
    cell: (r) => (r.kind === 'load' ? byProcess(r.load) : undefined),
  });
  return rows;
}

/** µs per delivered event by process; % of the core instead when nothing was delivered. */
function byProcess(l: LoadResult): string {
  const events = l.deliveredPerSecond * l.windowSeconds;
  const parts = [...l.serverCpuParts];
  if (parts.length === 0) return '–';
  if (!(events > 0)) {
    return parts
      .filter(([, s]) => s / l.windowSeconds >= 0.005)
      .map(([part, s]) => `${part} ${((s / l.windowSeconds) * 100).toFixed(0)} % of the core`)
      .join(', ');
  }
  return parts
    .filter(([, s]) => (s * 1e6) / events >= 0.005)
    .map(([part, s]) => `${part} ${((s * 1e6) / events).toFixed(2)}`)
    .join(', ');
}

/** One section, between the markers {@link mergeReport} looks for. */
export function renderSection(id: string, info: RunInfo, results: Results): string {
  const spec = SECTIONS[id];
  if (!spec) throw new Error(`unknown section ${id}`);
  const out: string[] = [`<!-- section:${id} -->`, `## ${spec.title}`, ''];
  out.push(`- **Date:** ${info.date.toISOString()}`);
  out.push(`- **Command:** \`${info.command}\``);
  out.push(`- **Machine:** ${info.machine}; Node ${info.node}`);
  out.push(
    `- **Placement:** ${spec.placement} Open-file limit ${info.nofile}` +
      `${info.nice !== 0 ? `; harness and servers at \`nice -n ${info.nice}\` in their own autogroup` : ''}. ` +
      'A fresh server per scenario.',
  );
  out.push(`- **Background load before the run:** ${info.backgroundLoad}`);
  out.push('- **Servers:**', ...serverList(info), '');
  for (const [scenario, byServer] of results) {
    const meta = TITLES[scenario];
    out.push(`### ${meta.title}`, '', meta.describe(info.config), '');
    const rows = scenario === 'i' || scenario === 'ii' ? sectionRows() : meta.rows();
    out.push(...table(rows, byServer, info.references));
    const notes = notesFor(byServer);
    if (notes.length > 0) out.push('', ...notes);
    for (const paragraph of meta.reading ?? []) out.push('', paragraph);
    out.push('');
  }
  for (const paragraph of spec.reading) out.push(paragraph, '');
  out.push(`<!-- /section:${id} -->`);
  return out.join('\n');
}

const SECTION_RE = /<!-- section:([\w-]+) -->\n[\s\S]*?<!-- \/section:\1 -->\n?/g;
const PREAMBLE =
  '_The sections after the scenarios come from runs of their own; each names its date and command._';

/**
 * The report file after a run: `main` replaces the main part (the default run), `section` replaces
 * or adds one section; what the run did not produce is kept from `existing`.
 */
export function mergeReport(
  existing: string | undefined,
  update: { main?: string; section?: { id: string; text: string } },
): string {
  const sections = new Map<string, string>();
  let main = (existing ?? '').replace(SECTION_RE, (text, id: string) => {
    sections.set(id, text.trimEnd());
    return '';
  });
  main = main.replace(`${PREAMBLE}\n\n`, '').trim();
  if (update.main !== undefined) main = update.main.trim();
  if (update.section) sections.set(update.section.id, update.section.text.trimEnd());
  if (main === '') main = '# Benchmark results\n\nThe full run (`npm run bench`) has not been recorded yet.';
  if (sections.size === 0) return `${main}\n`;
  const order = [...Object.keys(SECTIONS), ...[...sections.keys()].filter((id) => !(id in SECTIONS))];
  // The preamble goes right under the title, so that a reader of the main part knows more follows.
  const [title, ...rest] = main.split('\n');
  const parts = [[title, '', PREAMBLE, ...rest].join('\n')];
  for (const id of order) if (sections.has(id)) parts.push(sections.get(id)!);
  return `${parts.join('\n\n')}\n`;
}
