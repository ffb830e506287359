/**
 * URL pattern matching engines compared in one run, on the same patterns and topics:
 *
 * - `dfa`: the hub's matcher, `compileUrlPattern` (`src/urlpattern/`): one deterministic automaton
 *   per component, built under a budget, one table lookup per character;
 * - `nfa`: the matcher it replaced, state-set simulation of Thompson NFAs
 *   (`bench/urlpattern-nfa-baseline.ts`, kept for comparison only);
 * - `re2js`: the same components as RE2 regexps (the syntax tree the hub parses, written out as RE2
 *   syntax), `RE2JS.compile(…)` and `.matches(component)`, with the same glue as `dfa` (wildcard
 *   components skipped, fixed ones compared as strings): what adopting re2js would look like.
 *
 * Correctness comes first: every engine (and `urlpattern-polyfill` where backtracking is not a
 * hazard) must give the same answer for every pattern × topic, or the run aborts. Then compile time,
 * first test after compiling, steady time per test, and memory per compiled pattern; ratios against
 * `dfa`. The result replaces the `urlpattern` section of bench/RESULTS.md.
 *
 * @example
 * taskset -c 0 npm run bench:urlpattern     # ~1 min; --no-write prints without touching RESULTS.md
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { RE2JS } from 're2js';
import { URLPattern } from 'urlpattern-polyfill/urlpattern';
import { compileUrlPattern, measureUrlPattern, UrlPatternError } from '../src/urlpattern/index.ts';
import { type ComponentOptions, componentLiteral, componentNode } from '../src/urlpattern/parse.ts';
import type { CharSet, Node } from '../src/urlpattern/syntax.ts';
import { mergeReport } from './report-sections.ts';
import { alignTable } from './report-table.ts';
import {
  COMPONENT_OPTIONS,
  COMPONENTS,
  type Component,
  compileNfaUrlPattern,
  type NfaUrlPattern,
  NO_DELIMITERS,
  normalize,
  SPECIAL_SCHEMES,
  topicComponents,
} from './urlpattern-nfa-baseline.ts';

const BASE = 'https://hub.example/.well-known/mercure';
/** The hub's default `maxTopicLength`. */
const MAX_TOPIC_LENGTH = 2048;
const SECTION_ID = 'urlpattern';
const RESULTS = new URL('./RESULTS.md', import.meta.url);
const ROOT = new URL('../', import.meta.url);

/** Compile-time and first-test figures are medians over this many fresh compiles. */
const VARIANTS = 21;
/** Steady-state figures are medians over this many timed batches per engine, interleaved. */
const SAMPLES = 21;
/** Each timed batch runs for about this long. */
const BATCH_MS = 2;

// ---------------------------------------------------------------------------------------------
// Engines

interface Matcher {
  test(topic: string): boolean;
}

interface Engine {
  readonly name: EngineName;
  /** Throws `UrlPatternError` with code `too-complex` when the engine refuses the pattern. */
  compile(pattern: string): Matcher;
}

type EngineName = 'dfa' | 'nfa' | 're2js';

const ENGINES: readonly Engine[] = [
  { name: 'dfa', compile: (pattern) => compileUrlPattern(pattern, BASE) },
  { name: 'nfa', compile: (pattern) => compileNfaUrlPattern(pattern, BASE) },
  { name: 're2js', compile: (pattern) => new Re2UrlPattern(pattern, BASE) },
];

type Re2Check =
  | { readonly index: number; readonly literal: string }
  | { readonly index: number; readonly source: string; readonly re: RE2JS };

/**
 * The glue of `compileUrlPattern` with RE2 in place of the automata: the polyfill normalizes the
 * pattern, and each component that is neither a wildcard nor fixed text becomes the RE2 regexp of
 * its syntax tree.
 */
function re2Checks(pattern: string, base: string): Re2Check[] {
  const normalized = normalize(pattern, base);
  const compile = (c: Component, options: ComponentOptions): Re2Check | undefined => {
    const index = COMPONENTS.indexOf(c);
    const source = normalized[c];
    if (source === '*') return undefined;
    const literal = componentLiteral(source, options);
    if (literal !== undefined) return { index, literal };
    const regexp = re2Source(componentNode(source, options));
    return { index, source: regexp, re: RE2JS.compile(regexp) };
  };
  const protocol = compile('protocol', NO_DELIMITERS);
  const special = SPECIAL_SCHEMES.some((scheme) => matches(protocol, scheme));
  const pathname: ComponentOptions = special ? { delimiters: '/', prefixes: '/' } : NO_DELIMITERS;
  return COMPONENTS.flatMap((c) => {
    const check =
      c === 'protocol' ? protocol : compile(c, c === 'pathname' ? pathname : COMPONENT_OPTIONS[c]);
    return check ? [check] : [];
  }).sort((a, b) => Number('re' in a) - Number('re' in b));
}

class Re2UrlPattern implements Matcher {
  readonly #base: string;
  /** Fixed-text components first, as the hub orders its checks. */
  readonly #checks: readonly Re2Check[];

  constructor(pattern: string, baseURL: string) {
    this.#base = new URL(baseURL).href;
    this.#checks = re2Checks(pattern, this.#base);
  }

  test(topic: string): boolean {
    const values = topicComponents(topic, this.#base);
    if (!values) return false;
    for (const check of this.#checks) if (!matches(check, values[check.index]!)) return false;
    return true;
  }
}

function matches(check: Re2Check | undefined, value: string): boolean {
  if (!check) return true;
  return 're' in check ? check.re.matches(value) : value === check.literal;
}

/** The syntax tree as an RE2 regexp (matched whole by `.matches`, so no anchors). */
function re2Source(node: Node): string {
  switch (node.kind) {
    case 'set':
      return re2Set(node.set);
    case 'seq':
      return node.items.map(re2Source).join('');
    case 'alt':
      return node.options.length === 0 ? re2Set(undefined) : `(?:${node.options.map(re2Source).join('|')})`;
    case 'repeat': {
      const { min, max } = node;
      const inner = node.node.kind === 'set' ? re2Source(node.node) : `(?:${re2Source(node.node)})`;
      if (max === Number.POSITIVE_INFINITY) {
        return inner + (min === 0 ? '*' : min === 1 ? '+' : `{${min},}`);
      }
      return inner + (min === 0 && max === 1 ? '?' : min === max ? `{${min}}` : `{${min},${max}}`);
    }
  }
}

const MAX_CODE_POINT = 0x10ffff;

/** A set of code points as one RE2 atom; `undefined` is the empty set. */
function re2Set(set: CharSet | undefined): string {
  const r = set?.ranges ?? [];
  if (r.length === 0) return `[^\\x{0}-\\x{${MAX_CODE_POINT.toString(16)}}]`;
  if (r.length === 2 && r[0] === r[1]) return re2Char(r[0]!);
  const negated = r[0] === 0 && r.at(-1) === MAX_CODE_POINT;
  const ranges = negated ? set!.negate().ranges : r;
  let body = '';
  for (let i = 0; i < ranges.length; i += 2) {
    const [lo, hi] = [ranges[i]!, ranges[i + 1]!];
    body += lo === hi ? re2Char(lo) : `${re2Char(lo)}-${re2Char(hi)}`;
  }
  if (negated && body === '') return `[\\x{0}-\\x{${MAX_CODE_POINT.toString(16)}}]`;
  return negated ? `[^${body}]` : `[${body}]`;
}

/** One code point: letters and digits as they are, ASCII punctuation escaped, the rest as `\x{…}`. */
function re2Char(cp: number): string {
  const c = String.fromCodePoint(cp);
  if (/^[A-Za-z0-9]$/.test(c)) return c;
  if (cp > 0x20 && cp < 0x7f) return `\\${c}`;
  return `\\x{${cp.toString(16)}}`;
}

// ---------------------------------------------------------------------------------------------
// Patterns and topics

interface Case {
  readonly label: string;
  readonly pattern: string;
  /** The polyfill backtracks: it would take too long to check these with it. */
  readonly adversarial: boolean;
  readonly match: string;
  readonly miss: string;
}

const SEGMENTS_60 = Array.from({ length: 30 }, (_, i) => `/s${i}/:p${i}`).join('');
const TOPIC_60 = Array.from({ length: 30 }, (_, i) => `/s${i}/${(i * 7919) % 1000}`).join('');
const UUID = '5f0c2a7e-9b1d-4c3e-8f6a-2d7b9e1c4a30';

const TYPICAL: readonly Case[] = [
  {
    label: '`/books/:id`',
    pattern: '/books/:id',
    adversarial: false,
    match: 'https://hub.example/books/978-0-13-468599-1?format=jsonld',
    miss: 'https://hub.example/books/978-0-13-468599-1/reviews/17',
  },
  {
    label: '`https://example.com/books/:id(\\\\d+)`',
    pattern: 'https://example.com/books/:id(\\d+)',
    adversarial: false,
    match: 'https://example.com/books/9780134685991',
    miss: 'https://example.com/books/978-0134685991',
  },
  {
    label: '`/rooms/:room/peers/:peer`',
    pattern: '/rooms/:room/peers/:peer',
    adversarial: false,
    match: `https://hub.example/rooms/general-chat/peers/${UUID}`,
    miss: `https://hub.example/rooms/general-chat/messages/${UUID}`,
  },
  {
    label: '`/users/:user/*`',
    pattern: '/users/:user/*',
    adversarial: false,
    match: 'https://hub.example/users/alice/notifications/2026/11/25/mentions',
    miss: 'https://hub.example/groups/alice/notifications/2026/11/25/mentions',
  },
  {
    label: '60 segments `/s0/:p0/…/s29/:p29`',
    pattern: SEGMENTS_60,
    adversarial: false,
    match: TOPIC_60,
    miss: `${TOPIC_60.slice(0, TOPIC_60.lastIndexOf('/s29/'))}/t29/1`,
  },
  {
    label: 'presence `/.well-known/mercure/subscriptions/exact/:topic/:sub`',
    pattern: '/.well-known/mercure/subscriptions/exact/:topic/:sub',
    adversarial: false,
    match: `/.well-known/mercure/subscriptions/exact/https%3A%2F%2Fexample.com%2Fbooks%2F1/urn%3Auuid%3A${UUID}`,
    miss: `/.well-known/mercure/subscriptions/match_urlpattern/%2Fbooks%2F%3Aid/urn%3Auuid%3A${UUID}`,
  },
];

/** `/` then `n` times `*a`: a full wildcard before each `a`. */
const starChain = (n: number): string => `/${'*a'.repeat(n)}`;

/** Topics of `length` characters (the twin used in timing adds one: `#`). */
const fill = (head: string, ch: string, tail: string, length: number): string =>
  head + ch.repeat(length - head.length - tail.length) + tail;

function adversarial(longestChain: number): Case[] {
  const n = MAX_TOPIC_LENGTH - 1;
  const aaa = fill('/', 'a', '', n);
  const aab = fill('/', 'a', 'b', n);
  const chain = (label: string, links: number): Case => ({
    label,
    pattern: starChain(links),
    adversarial: true,
    match: aaa,
    miss: aab,
  });
  return [
    chain('`/` + `*a`×40', 40),
    {
      label: '`/:a:b:c:d:e:f:g`',
      pattern: '/:a:b:c:d:e:f:g',
      adversarial: true,
      match: fill('/', 'x', '', n),
      miss: fill('/', 'x', '/', n),
    },
    { label: '`/{(a+)}+b`', pattern: '/{(a+)}+b', adversarial: true, match: aab, miss: aaa },
    { label: '`/((?:.*a){12})`', pattern: '/((?:.*a){12})', adversarial: true, match: aaa, miss: aab },
    chain(`\`/\` + \`*a\`×${longestChain} (longest the DFA accepts)`, longestChain),
    chain(`\`/\` + \`*a\`×${longestChain + 1} (shortest it refuses)`, longestChain + 1),
  ];
}

function refuses(engine: Engine, pattern: string): boolean {
  try {
    engine.compile(pattern);
    return false;
  } catch (err) {
    if (err instanceof UrlPatternError && err.code === 'too-complex') return true;
    throw err;
  }
}

/** Largest `n` for which the DFA compiles `starChain(n)` (patterns are at most 1024 characters). */
function longestStarChain(): number {
  const dfa = ENGINES[0]!;
  let lo = 1;
  let hi = 511;
  if (refuses(dfa, starChain(lo))) throw new Error('the DFA refuses `/*a`');
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (refuses(dfa, starChain(mid))) hi = mid - 1;
    else lo = mid;
  }
  return lo;
}

// ---------------------------------------------------------------------------------------------
// Correctness

/** A topic and the same topic with an empty fragment: equal components, different strings. */
const twin = (topic: string): string => `${topic}#`;

/** Every engine must agree with the others, with the case's label and (when safe) with the polyfill. */
function checkAgreement(cases: readonly Case[]): number {
  const topics = cases.flatMap((c) => [c.match, c.miss]);
  const derived = topics.flatMap((t) =>
    t.length < MAX_TOPIC_LENGTH - 8
      ? [t, twin(t), `${t}/`, `${t}?x=1#y`, t.slice(0, -1), t.toUpperCase()]
      : [t, twin(t), t.slice(0, -1)],
  );
  const failures: string[] = [];
  let checked = 0;
  for (const c of cases) {
    const compiled = ENGINES.flatMap((e) =>
      refuses(e, c.pattern) ? [] : [[e.name, e.compile(c.pattern)] as const],
    );
    const polyfill = c.adversarial ? undefined : new URLPattern(c.pattern, BASE);
    for (const topic of derived) {
      const answers = new Map<string, boolean>(compiled.map(([name, m]) => [name, m.test(topic)]));
      if (polyfill && topic.length <= MAX_TOPIC_LENGTH) answers.set('polyfill', polyfill.test(topic, BASE));
      if (topic === c.match || topic === twin(c.match)) answers.set('expected', true);
      if (topic === c.miss || topic === twin(c.miss)) answers.set('expected', false);
      checked++;
      if (new Set(answers.values()).size > 1) {
        const shown =
          topic.length > 120 ? `${topic.slice(0, 60)}…${topic.slice(-40)} (${topic.length} chars)` : topic;
        failures.push(
          `pattern ${JSON.stringify(c.pattern)}, topic ${JSON.stringify(shown)}: ` +
            [...answers].map(([k, v]) => `${k}=${v}`).join(' '),
        );
      }
    }
  }
  if (failures.length > 0) {
    console.error(`The matchers disagree (${failures.length} of ${checked}):\n${failures.join('\n')}`);
    process.exit(1);
  }
  return checked;
}

// ---------------------------------------------------------------------------------------------
// Measurement

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

let sink = 0;

/** µs per test over `pairs` × (topic, twin); checks the answers on the way. */
function batch(m: Matcher, topic: string, expected: boolean, pairs: number): number {
  const other = twin(topic);
  let hits = 0;
  const start = performance.now();
  for (let i = 0; i < pairs; i++) {
    if (m.test(topic)) hits++;
    if (m.test(other)) hits++;
  }
  const elapsed = performance.now() - start;
  if (hits !== (expected ? 2 * pairs : 0)) throw new Error(`wrong answer while timing ${topic.slice(0, 80)}`);
  sink += hits;
  return (elapsed * 1000) / (2 * pairs);
}

/** Pairs per batch so that one takes about `BATCH_MS`; the runs that find it are the warm-up. */
function calibrate(m: Matcher, topic: string, expected: boolean): number {
  let pairs = 1;
  for (;;) {
    const micros = batch(m, topic, expected, pairs) * 2 * pairs;
    if (micros >= BATCH_MS * 1000 || pairs >= 1 << 20) {
      return Math.max(1, Math.round((pairs * BATCH_MS * 1000) / micros));
    }
    pairs *= 2;
  }
}

/** Median µs per test of each matcher, batches interleaved so drift hits them alike. */
function steady(matchers: readonly Matcher[], topic: string, expected: boolean): number[] {
  const pairs = matchers.map((m) => {
    calibrate(m, topic, expected);
    return calibrate(m, topic, expected);
  });
  const samples = matchers.map((): number[] => []);
  for (let s = 0; s < SAMPLES; s++) {
    for (const [i, m] of matchers.entries()) samples[i]!.push(batch(m, topic, expected, pairs[i]!));
  }
  return samples.map(median);
}

let variant = 0;

/**
 * Median µs to compile distinct variants of `pattern` (a unique fixed fragment), engines interleaved;
 * the last figure is the polyfill's normalization alone, the floor every engine pays.
 */
function compileTimes(pattern: string): number[] {
  const base = new URL(BASE).href;
  const steps: ((source: string) => unknown)[] = [
    ...ENGINES.map((e) => (source: string) => e.compile(source)),
    (source: string) => normalize(source, base),
  ];
  const times = steps.map((): number[] => []);
  for (let v = 0; v < VARIANTS; v++) {
    const source = `${pattern}#v${variant++}`;
    steps.forEach((step, i) => {
      const start = performance.now();
      try {
        step(source);
      } catch (err) {
        if (!(err instanceof UrlPatternError)) throw err;
      }
      times[i]!.push((performance.now() - start) * 1000);
    });
  }
  return times.map(median);
}

/**
 * Median µs of the first test on a freshly compiled pattern (re2js builds its DFA lazily). The topic
 * alternates with its twin, so that the hub's memo of the last parsed topic does not answer.
 */
function firstTest(engine: Engine, pattern: string, topic: string): number {
  const times: number[] = [];
  for (let v = 0; v < VARIANTS; v++) {
    const m = engine.compile(pattern);
    const input = v % 2 === 0 ? topic : twin(topic);
    const start = performance.now();
    sink += Number(m.test(input));
    times.push((performance.now() - start) * 1000);
  }
  return median(times);
}

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const heap = (): number => {
  gc();
  gc();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
};

/** KB per compiled pattern (JS heap + array buffers): after compiling, then after testing both topics. */
function memory(engine: Engine, c: Case, copies: number): [number, number] {
  const before = heap();
  const kept = Array.from({ length: copies }, () => engine.compile(c.pattern));
  const compiled = heap();
  for (const m of kept) sink += Number(m.test(c.match)) + Number(m.test(c.miss));
  const used = heap();
  sink += kept.length;
  return [(compiled - before) / copies / 1024, (used - before) / copies / 1024];
}

// ---------------------------------------------------------------------------------------------
// Report

interface PatternResult {
  readonly c: Case;
  readonly refused: readonly boolean[];
  /** Per engine, then the polyfill's normalization alone. */
  readonly compileMicros: readonly number[];
  readonly memoryKB: readonly (readonly [number, number])[];
  readonly states: readonly string[];
  readonly topics: readonly TopicResult[];
}

interface TopicResult {
  readonly topic: string;
  readonly expected: boolean;
  readonly parseMicros: number;
  /** NaN where the engine refused the pattern. */
  readonly micros: readonly number[];
  readonly firstMicros: readonly number[];
  /** Share of the steady timing the main thread was kept off its core by other processes, in %. */
  readonly otherPercent: number;
}

/** Three significant figures or so: 0.123, 1.23, 12.3, 123, 1,234. */
const num = (x: number): string =>
  Number.isNaN(x)
    ? '–'
    : x >= 999.5
      ? Math.round(x).toLocaleString('en-US')
      : x >= 99.95
        ? x.toFixed(0)
        : x >= 9.995
          ? x.toFixed(1)
          : x.toFixed(2);
const ratio = (x: number, ref: number): string =>
  Number.isNaN(x) || Number.isNaN(ref) ? '–' : `${num(x / ref)}×`;

function compileTable(results: readonly PatternResult[]): string[] {
  const header = [
    'pattern',
    'normalize µs',
    ...ENGINES.map((e) => `${e.name} compile µs`),
    'nfa ÷ dfa',
    're2js ÷ dfa',
    ...ENGINES.map((e) => `${e.name} KB (→ after use)`),
    'states dfa / nfa',
  ];
  const body = results.map((r) => {
    const us = ENGINES.map((_, i) => (r.refused[i] ? Number.NaN : r.compileMicros[i]!));
    return [
      r.c.label,
      num(r.compileMicros[ENGINES.length]!),
      ...ENGINES.map((_, i) => (r.refused[i] ? `refused (${num(r.compileMicros[i]!)})` : num(us[i]!))),
      ratio(us[1]!, us[0]!),
      ratio(us[2]!, us[0]!),
      ...r.memoryKB.map(([a, b], i) =>
        r.refused[i] ? '–' : b - a < Math.max(0.5, a * 0.1) ? num(a) : `${num(a)} → ${num(b)}`,
      ),
      r.states.join(' / '),
    ];
  });
  return alignTable(header, body);
}

function testTable(results: readonly PatternResult[]): string[] {
  const header = [
    'pattern',
    'topic',
    'URL parse µs',
    ...ENGINES.map((e) => `${e.name} µs/test (ns/char)`),
    'nfa ÷ dfa',
    're2js ÷ dfa',
    'first test µs dfa / nfa / re2js',
    'other load %',
  ];
  const body = results.flatMap((r) =>
    r.topics.map((t, j) => [
      j === 0 ? r.c.label : '',
      `${t.expected ? 'match' : 'miss'}, ${t.topic.length} chars`,
      num(t.parseMicros),
      ...t.micros.map((us) =>
        Number.isNaN(us) ? 'refused' : `${num(us)} (${num((us * 1000) / t.topic.length)})`,
      ),
      ratio(t.micros[1]!, t.micros[0]!),
      ratio(t.micros[2]!, t.micros[0]!),
      t.firstMicros.map(num).join(' / '),
      t.otherPercent.toFixed(1),
    ]),
  );
  return alignTable(header, body);
}

/** `a–b` over the finite values (one figure when they round alike). */
function range(values: readonly number[], unit = ''): string {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return '–';
  const [lo, hi] = [num(Math.min(...finite)), num(Math.max(...finite))];
  return lo === hi ? `${lo}${unit}` : `${lo}–${hi}${unit}`;
}

/** The reading under the tables, from this run's figures. */
function reading(results: readonly PatternResult[]): string[] {
  const [DFA, NFA, RE2] = [0, 1, 2];
  const NORMALIZE = ENGINES.length;
  const typical = results.filter((r) => !r.c.adversarial);
  const hostile = results.filter((r) => r.c.adversarial && !r.refused[DFA]);
  const refusedRows = results.filter((r) => r.refused[DFA]);
  const topicsOf = (rs: readonly PatternResult[]) => rs.flatMap((r) => r.topics);
  const per = (ts: readonly TopicResult[], f: (t: TopicResult) => number) => ts.map(f);
  const tt = topicsOf(typical);
  const ht = topicsOf(hostile);
  const nsPerChar = (t: TopicResult, e: number) => (t.micros[e]! * 1000) / t.topic.length;
  const fastest = tt.filter((t) => t.micros[DFA]! <= Math.min(t.micros[NFA]!, t.micros[RE2]!)).length;
  const lines: string[] = [];
  lines.push(
    `**Steady state, ordinary patterns:** \`dfa\` is the fastest on ${fastest} of ${tt.length} rows; \`nfa\` takes ` +
      `${range(
        per(tt, (t) => t.micros[NFA]! / t.micros[DFA]!),
        '×',
      )} its time and \`re2js\` ` +
      `${range(
        per(tt, (t) => t.micros[RE2]! / t.micros[DFA]!),
        '×',
      )}. Parsing the topic (\`new URL\`, ` +
      `${range(
        per(tt, (t) => t.parseMicros),
        ' µs',
      )}) is most of a \`dfa\` test: the matching proper (test − parse) is ` +
      `${range(
        per(tt, (t) => t.micros[DFA]! - t.parseMicros),
        ' µs',
      )} for \`dfa\`, ` +
      `${range(
        per(tt, (t) => t.micros[RE2]! - t.parseMicros),
        ' µs',
      )} for \`re2js\`, ` +
      `${range(
        per(tt, (t) => t.micros[NFA]! - t.parseMicros),
        ' µs',
      )} for \`nfa\`.`,
  );
  const worstNfa = Math.max(...per(ht, (t) => t.micros[NFA]!));
  lines.push(
    `**Adversarial 2 KB topics:** \`dfa\` stays at ${range(
      per(ht, (t) => nsPerChar(t, DFA)),
      ' ns',
    )} per character ` +
      `whatever the pattern, \`re2js\` at ${range(
        per(ht, (t) => nsPerChar(t, RE2)),
        ' ns',
      )} ` +
      `(${range(
        per(ht, (t) => t.micros[RE2]! / t.micros[DFA]!),
        '×',
      )} \`dfa\`). \`nfa\` needs ` +
      `${range(
        per(ht, (t) => nsPerChar(t, NFA)),
        ' ns',
      )} per character, ${range(
        per(ht, (t) => t.micros[NFA]! / t.micros[DFA]!),
        '×',
      )} ` +
      `\`dfa\`: up to ${num(worstNfa / 1000)} ms for one pattern against one update, growing with the number of ` +
      'NFA states live at once — the cost the rewrite removed.',
  );
  const re2First = (ts: readonly TopicResult[]) => per(ts, (t) => t.firstMicros[RE2]!);
  lines.push(
    `**Compile and first use:** on ordinary patterns \`dfa\` compiles in ${range(
      typical.map((r) => r.compileMicros[DFA]!),
      ' µs',
    )}, ` +
      `of which the polyfill's normalization (paid by every engine) is ${range(
        typical.map((r) => r.compileMicros[NORMALIZE]!),
        ' µs',
      )}; ` +
      `the subset construction makes that ${range(
        typical.map((r) => r.compileMicros[DFA]! / r.compileMicros[NFA]!),
        '×',
      )} ` +
      `\`nfa\`'s compile. \`re2js\` compiles in ${range(
        typical.map((r) => r.compileMicros[RE2]! / r.compileMicros[DFA]!),
        '×',
      )} ` +
      `\`dfa\`'s time, and its first test, which fills its lazy DFA, takes ${range(re2First(tt), ' µs')} on ordinary topics ` +
      `(${range(
        per(tt, (t) => t.firstMicros[RE2]! / t.micros[RE2]!),
        '×',
      )} its steady test) and ` +
      `${range(re2First(ht), ' µs')} on the adversarial ones (${range(
        per(ht, (t) => t.firstMicros[RE2]! / t.micros[RE2]!),
        '×',
      )}). \`dfa\` has nothing left to build: its first test, on caches cold from compiling, takes ` +
      `${range(
        per([...tt, ...ht], (t) => t.firstMicros[DFA]!),
        ' µs',
      )} (${range(
        per([...tt, ...ht], (t) => t.firstMicros[DFA]! / t.micros[DFA]!),
        '×',
      )} its steady test).`,
  );
  const kb = (rs: readonly PatternResult[], e: number, after: 0 | 1) => rs.map((r) => r.memoryKB[e]![after]);
  const all = [...typical, ...hostile];
  lines.push(
    `**Memory per compiled pattern:** \`dfa\` ${range(kb(all, DFA, 1), ' KB')}, \`nfa\` ${range(kb(all, NFA, 1), ' KB')} ` +
      `(eight NFAs with their scratch buffers), \`re2js\` ${range(kb(all, RE2, 0), ' KB')} compiled and ` +
      `${range(kb(all, RE2, 1), ' KB')} once its DFA cache has seen both topics.`,
  );
  for (const r of refusedRows) {
    const engineFigures = (e: number) => r.topics.map((t) => t.micros[e]!);
    const nfaMs = range(
      engineFigures(NFA).map((us) => us / 1000),
      ' ms',
    );
    const re2First = range(
      r.topics.map((t) => t.firstMicros[RE2]!),
      ' µs',
    );
    lines.push(
      `**Refused:** \`dfa\` refuses ${r.c.label.replace(/ \(.*\)$/, '')} in ${num(r.compileMicros[DFA]!)} µs: ` +
        'building its automaton would take more than `MAX_COMPILE_WORK`, although the automaton of the previous ' +
        `row is small and as fast as any. \`nfa\` accepts it and takes ${nfaMs} per 2 KB test; \`re2js\` accepts ` +
        `it and takes ${range(engineFigures(RE2), ' µs')} (first test ${re2First}).`,
    );
  }
  return lines;
}

function codeSize(): string {
  const dir = new URL('src/urlpattern/', ROOT);
  const files = readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
  const lines = (f: URL): number => readFileSync(f, 'utf8').split('\n').length - 1;
  const total = files.reduce((sum, f) => sum + lines(new URL(f, dir)), 0);
  const automata = ['nfa.ts', 'dfa.ts', 'matcher.ts'].reduce((sum, f) => sum + lines(new URL(f, dir)), 0);
  const re2 = new URL('node_modules/re2js/build/index.js', ROOT);
  const re2Bytes = readFileSync(re2).byteLength;
  const version = (
    JSON.parse(readFileSync(new URL('node_modules/re2js/package.json', ROOT), 'utf8')) as { version: string }
  ).version;
  return (
    `\`src/urlpattern/*.ts\` without tests: ${total.toLocaleString('en-US')} lines in ${files.length} files, of which ` +
    `the automata (\`nfa.ts\`, \`dfa.ts\`, \`matcher.ts\`) ${automata} lines; the parsers, the polyfill glue and the ` +
    `URI templates would stay with re2js. re2js ${version}: \`build/index.js\` ${lines(re2).toLocaleString('en-US')} lines, ` +
    `${Math.round(re2Bytes / 1024)} KB (one of four builds in the package).`
  );
}

/** Nanoseconds a thread has run and has waited, runnable, for a core (`schedstat`); 0 if gone. */
function schedstat(path: string): [number, number] {
  try {
    const [run, wait] = readFileSync(path, 'utf8').split(' ');
    return [Number(run), Number(wait)];
  } catch {
    return [0, 0];
  }
}

/**
 * From now on, the share of wall time the main thread spent runnable but off its core for another
 * reason than this process's own helper threads (V8's compiler and GC): other processes on the core.
 */
function otherLoad(): { percent(): number } {
  const read = (): number => {
    let helpers = 0;
    for (const tid of readdirSync('/proc/self/task')) {
      if (tid !== String(process.pid)) helpers += schedstat(`/proc/self/task/${tid}/schedstat`)[0];
    }
    return schedstat('/proc/self/schedstat')[1] - helpers;
  };
  const [start, wall] = [read(), performance.now()];
  return { percent: () => Math.max(0, (read() - start) / 1e6 / (performance.now() - wall)) * 100 };
}

function machine(): { cores: string; pinned: string | undefined } {
  const cpus = os.cpus();
  const allowed = /^Cpus_allowed_list:\s*(\S+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  const all = `0-${cpus.length - 1}`;
  return {
    cores:
      `${cpus.length} cores (${cpus[0]?.model.trim() ?? 'unknown'}), ` +
      `${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, Linux ${os.release()}`,
    pinned: allowed && allowed !== all ? allowed : undefined,
  };
}

function command(pinned: string | undefined): string {
  const viaNpm = process.env.npm_lifecycle_event === 'bench:urlpattern';
  const args = process.argv.slice(2).join(' ');
  const run = viaNpm
    ? `npm run bench:urlpattern${args ? ` -- ${args}` : ''}`
    : `npx tsx bench/urlpattern.ts ${args}`;
  return `${pinned ? `taskset -c ${pinned} ` : ''}${run.trim()}`;
}

// ---------------------------------------------------------------------------------------------
// Main

function main(): void {
  const write = !process.argv.includes('--no-write');
  if (process.argv.includes('--regexps')) {
    for (const c of [...TYPICAL, ...adversarial(longestStarChain())]) {
      const shown = re2Checks(c.pattern, new URL(BASE).href).map((check) =>
        're' in check
          ? `${COMPONENTS[check.index]} ${check.source}`
          : `${COMPONENTS[check.index]} = ${check.literal}`,
      );
      console.log(
        `${c.pattern.length > 80 ? `${c.pattern.slice(0, 77)}…` : c.pattern}\n  ${shown.join('\n  ')}`,
      );
    }
    return;
  }
  const started = performance.now();
  const loadInRun = otherLoad();
  const { cores, pinned } = machine();
  const longest = longestStarChain();
  const cases = [...TYPICAL, ...adversarial(longest)];
  for (const c of cases) {
    if (c.match.length >= MAX_TOPIC_LENGTH || c.miss.length >= MAX_TOPIC_LENGTH)
      throw new Error(`topic too long: ${c.label}`);
  }
  const checked = checkAgreement(cases);
  console.error(
    `agreement: ${checked} pattern × topic pairs, every engine answers alike; longest \`*a\` chain: ${longest}`,
  );

  const results: PatternResult[] = [];
  for (const c of cases) {
    const refused = ENGINES.map((e) => refuses(e, c.pattern));
    const matchers = ENGINES.map((e, i) => (refused[i] ? undefined : e.compile(c.pattern)));
    const compileMicros = compileTimes(c.pattern);
    const dfa = matchers[0] as Parameters<typeof measureUrlPattern>[0] | undefined;
    const nfa = matchers[1] as NfaUrlPattern | undefined;
    const states = [
      dfa ? String(measureUrlPattern(dfa, c.match).states) : '–',
      nfa ? String(nfa.states) : '–',
    ];
    const topics = ([true, false] as const).map((expected): TopicResult => {
      const topic = expected ? c.match : c.miss;
      const live = matchers.flatMap((m) => (m ? [m] : []));
      // The floor every engine pays: parsing the topic into its components.
      const parser: Matcher = { test: (t) => topicComponents(t, BASE) !== undefined && expected };
      const load = otherLoad();
      const [parseMicros, ...times] = steady([parser, ...live], topic, expected);
      const otherPercent = load.percent();
      let k = 0;
      return {
        topic,
        expected,
        otherPercent,
        parseMicros: parseMicros!,
        micros: matchers.map((m) => (m ? times[k++]! : Number.NaN)),
        firstMicros: ENGINES.map((e, i) => (refused[i] ? Number.NaN : firstTest(e, c.pattern, topic))),
      };
    });
    const copies = c.adversarial ? 100 : 1000;
    const memoryKB = ENGINES.map((e, i): [number, number] =>
      refused[i] ? [Number.NaN, Number.NaN] : memory(e, c, copies),
    );
    results.push({ c, refused, compileMicros, memoryKB, states, topics });
    console.error(`measured ${c.label} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
  }

  const out: string[] = [
    `<!-- section:${SECTION_ID} -->`,
    '## URL pattern matching: DFA vs the former NFA vs re2js',
    '',
    `- **Date:** ${new Date().toISOString()}`,
    `- **Command:** \`${command(pinned)}\``,
    `- **Machine:** ${cores}; Node ${process.version}${pinned ? `; pinned to core ${pinned}` : ''}; the run took ` +
      `${Math.round((performance.now() - started) / 1000)} s, kept off its core by other processes ` +
      `${loadInRun.percent().toFixed(1)} % of the time`,
    `- **Engines:** \`dfa\` = \`compileUrlPattern\` (\`src/urlpattern/\`); \`nfa\` = the state-set simulation it replaced ` +
      '(`bench/urlpattern-nfa-baseline.ts`, every component an NFA, as before the rewrite); `re2js` = each component ' +
      'that is neither `*` nor fixed text as the RE2 regexp of its syntax tree, `RE2JS.compile` + `.matches` ' +
      '(wildcards skipped, fixed text compared, as `dfa` does). All three parse and normalize with `urlpattern-polyfill` ' +
      'first and parse the topic with `new URL(topic, base)`.',
    `- **Correctness:** ${checked} pattern × topic pairs (each topic below, its twin with an empty \`#\`, and with \`/\`, ` +
      '`?x=1#y`, the last character cut, upper-cased) answer alike on every engine that compiles the pattern, and ' +
      'alike with `new URLPattern(pattern, base).test(topic, base)` on the non-adversarial patterns. The run aborts otherwise.',
    `- **Method:** compile = median of ${VARIANTS} distinct variants (\`#v<n>\` appended); first test = median over ` +
      `${VARIANTS} fresh compiles of the first \`test()\`; steady = median of ${SAMPLES} batches of ~${BATCH_MS} ms, ` +
      'engines interleaved, each batch alternating the topic and its twin so no memo answers; ' +
      'ns/char = per character of the topic string. Memory = growth of JS heap + array buffers per compiled pattern ' +
      '(1,000 copies, 100 for adversarial rows) after compiling (→ after testing both topics, where that adds ' +
      "over 10 %); it varies by about 10 % between runs. Other load = share of a row's steady timing the main " +
      'thread was runnable but kept off its core by other processes (schedstat, less what the V8 helper threads ' +
      "of this process ran): above a few % that row's times are inflated; its ratios less so, the batches being " +
      'interleaved.',
    `- **Base:** \`${BASE}\`; topics ≤ ${MAX_TOPIC_LENGTH} characters (the hub's default \`maxTopicLength\`).`,
    '',
    '### Compile',
    '',
    ...compileTable(results),
    '',
    '### Test',
    '',
    ...testTable(results),
    '',
    `Code size: ${codeSize()}`,
    '',
    ...reading(results).flatMap((line) => [line, '']),
    `<!-- /section:${SECTION_ID} -->`,
  ];
  const text = out.join('\n');
  console.log(text);
  if (write) {
    let existing: string | undefined;
    try {
      existing = readFileSync(RESULTS, 'utf8');
    } catch {
      existing = undefined;
    }
    writeFileSync(RESULTS, mergeReport(existing, { section: { id: SECTION_ID, text } }));
    console.error(`wrote the ${SECTION_ID} section of ${RESULTS.pathname}`);
  }
  if (sink === -1) console.error('unreachable');
}

main();
