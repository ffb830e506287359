/**
 * Topic matching for Mercure's `match_urlpattern` subscriptions, in linear time.
 *
 * Mercure requires URL Pattern evaluation to be bounded: "hubs MUST either use a regular
 * expression engine that guarantees linear-time matching (such as RE2) or enforce an evaluation
 * cost limit". The URL Pattern standard compiles to backtracking `RegExp`s, where
 * `/*a*a*a*a*b` take polynomial and `/{(a+)}+b` exponential time on a crafted topic. So the polyfill is used
 * only to validate a pattern and normalize its eight components against the hub URL; each
 * component then becomes a string comparison (fixed text), nothing (a wildcard), or a
 * deterministic automaton (`parse.ts` → `nfa.ts` → `dfa.ts`) that reads each character of the topic
 * once. Building the automaton is bounded too: a pattern that would need a large one is refused
 * when it is compiled (`too-complex`), never slow when it runs.
 */
import { URLPattern } from 'urlpattern-polyfill/urlpattern';
import type { StepMeter } from './dfa.ts';
import { UrlPatternError } from './error.ts';
import {
  BASE_COST,
  compileBudget,
  compileMatcher,
  describeMatcher,
  matchString,
  PARSE_COST_PER_CHAR,
  type StringMatcher,
  spent,
  statesOf,
} from './matcher.ts';
import { type ComponentOptions, componentLiteral, componentNode, protocolEnd } from './parse.ts';

export { UrlPatternError, type UrlPatternErrorCode } from './error.ts';

/** Limits applied when compiling a pattern. */
export interface UrlPatternLimits {
  /** Longest accepted pattern, in UTF-16 code units (default 1024). */
  maxPatternLength: number;
}

/** Defaults for `UrlPatternLimits`. */
export const DEFAULT_URL_PATTERN_LIMITS: Readonly<UrlPatternLimits> = { maxPatternLength: 1024 };

/**
 * NFA states allowed per character of the resolved pattern. Plain syntax needs about 3; counted
 * repetition (`\d{40}`) gets near the cap and nesting it (`(?:a{99}){99}`) goes past and is refused.
 */
export const MAX_STATES_PER_PATTERN_CHAR = 16;

/**
 * Longest protocol part accepted, e.g. `(http|https|ws|wss)`. While constructing a pattern, the
 * polyfill tests the protocol pattern against "ftp", "file", "http"… with a backtracking `RegExp`
 * ("protocol component matches a special scheme"). Measured on Node 20: 60 `*` followed by
 * `(\d)` took it 0.7 s and `(.|.)*` five times 0.18 s; nothing of 24 characters took over 12 ms.
 */
export const MAX_PROTOCOL_PATTERN_LENGTH = 24;

/** A pattern ready to be tested against many topics. */
export interface CompiledUrlPattern {
  /** The source as given. */
  readonly pattern: string;
  /**
   * What compiling it took, in work units (see `MAX_COMPILE_WORK`): the same for the same pattern
   * wherever it is compiled, so callers can charge it to a budget whether it came from a cache or not.
   */
  readonly cost: number;
  /**
   * Equal for two compiled patterns that match exactly the same topics because they compile to the
   * same automata against the same base (e.g. `/books/:id` and `/books/:bookId`): share one of them.
   */
  readonly key: string;
  /**
   * True when `topic` (absolute or relative to the base) matches. Never throws. One pass over the
   * topic; the answer for the last topic asked is remembered, so the many subscribers and grants
   * that share one compiled pattern cost one test per update, not one each.
   */
  test(topic: string): boolean;
}

/** Cost of one `test()`, as reported by `measureUrlPattern`. */
export interface UrlPatternCost {
  readonly matched: boolean;
  /** Characters read by the automata: at most the length of the topic's components. */
  readonly steps: number;
  /** Automaton states over all eight components. */
  readonly states: number;
}

// The URL Pattern components, in the order the standard lists and matches them; all must match.
const COMPONENTS = [
  'protocol',
  'username',
  'password',
  'hostname',
  'port',
  'pathname',
  'search',
  'hash',
] as const;
type Component = (typeof COMPONENTS)[number];
// URL Pattern "protocol component matches a special scheme": these decide how pathnames parse.
const SPECIAL_SCHEMES = ['ftp', 'file', 'http', 'https', 'ws', 'wss'];
const NO_DELIMITERS: ComponentOptions = { delimiters: '', prefixes: '' };
const COMPONENT_OPTIONS: Record<Exclude<Component, 'pathname'>, ComponentOptions> = {
  protocol: NO_DELIMITERS,
  username: NO_DELIMITERS,
  password: NO_DELIMITERS,
  hostname: { delimiters: '.', prefixes: '' },
  port: NO_DELIMITERS,
  search: NO_DELIMITERS,
  hash: NO_DELIMITERS,
};

class UrlPatternMatcher implements CompiledUrlPattern {
  readonly pattern: string;
  readonly cost: number;
  readonly key: string;
  readonly states: number;
  readonly #base: string;
  /** Component index and matcher, cheapest first; wildcard components are left out. */
  readonly #checks: readonly (readonly [number, StringMatcher])[];
  #lastTopic: string | undefined;
  #lastResult = false;

  constructor(pattern: string, base: string, matchers: readonly StringMatcher[], cost: number) {
    this.pattern = pattern;
    this.cost = cost;
    this.#base = base;
    this.key = `url ${base}\n${matchers.map(describeMatcher).join('\n')}`;
    this.states = matchers.reduce((sum, m) => sum + statesOf(m), 0);
    const checks = matchers.flatMap((m, i) => (m.kind === 'any' ? [] : [[i, m] as const]));
    this.#checks = checks.sort(([, a], [, b]) => (a.kind === b.kind ? 0 : a.kind === 'literal' ? -1 : 1));
  }

  test(topic: string): boolean {
    if (topic !== this.#lastTopic) {
      this.#lastResult = this.run(topic);
      this.#lastTopic = topic;
    }
    return this.#lastResult;
  }

  run(topic: string, meter?: StepMeter): boolean {
    const values = topicComponents(topic, this.#base);
    if (!values) return false;
    for (const [i, matcher] of this.#checks) if (!matchString(matcher, values[i]!, meter)) return false;
    return true;
  }
}

/**
 * Compiles a `match_urlpattern` value. Relative patterns resolve against `baseURL` (the hub's
 * URL), as relative topics will in `test()`; absolute ones, `urn:*` included, stand alone.
 * Matching is case-sensitive.
 *
 * Throws `UrlPatternError` for a malformed, too long or too complex pattern, or one whose regexp
 * groups use syntax outside the linear-time subset (see `regexp.ts`), and `TypeError`
 * if `baseURL` is not an absolute URL.
 *
 * @example
 * const books = compileUrlPattern('/books/:id(\\d+)', 'https://hub.example/.well-known/mercure');
 * books.test('https://hub.example/books/42'); // true
 * books.test('/books/42?format=json');         // true: search is a wildcard unless given
 * books.test('/books/abc');                    // false
 */
export function compileUrlPattern(
  pattern: string,
  baseURL: string,
  limits?: Partial<UrlPatternLimits>,
): CompiledUrlPattern {
  const maxPatternLength = limits?.maxPatternLength ?? DEFAULT_URL_PATTERN_LIMITS.maxPatternLength;
  const base = new URL(baseURL).href;
  if (pattern.length > maxPatternLength) {
    throw new UrlPatternError(`URL pattern is longer than ${maxPatternLength} characters`, 'too-long');
  }
  const normalized = normalize(pattern, base);
  const size = COMPONENTS.reduce((sum, c) => sum + normalized[c].length + 1, 0);
  const states = MAX_STATES_PER_PATTERN_CHAR * size;
  const budget = compileBudget(states);
  const compile = (c: Component, options: ComponentOptions): StringMatcher => {
    const source = normalized[c];
    // Most components of a pattern are fixed text (the origin of a relative one) or a plain
    // wildcard (those it leaves out): no automaton for those.
    if (source === '*') return { kind: 'any' };
    const literal = componentLiteral(source, options);
    if (literal !== undefined) return { kind: 'literal', text: literal };
    return compileMatcher(componentNode(source, options), budget);
  };
  const protocol = compile('protocol', NO_DELIMITERS);
  // The standard's URLPattern constructor picks pathname options by whether the protocol pattern
  // can match a special scheme; opaque paths (`urn:…`) have no segments.
  const special = SPECIAL_SCHEMES.some((scheme) => matchString(protocol, scheme));
  const pathname: ComponentOptions = special ? { delimiters: '/', prefixes: '/' } : NO_DELIMITERS;
  const matchers = COMPONENTS.map((c) =>
    c === 'protocol' ? protocol : compile(c, c === 'pathname' ? pathname : COMPONENT_OPTIONS[c]),
  );
  return new UrlPatternMatcher(
    pattern,
    base,
    matchers,
    BASE_COST + PARSE_COST_PER_CHAR * pattern.length + spent(budget, states),
  );
}

/**
 * Validates `pattern` and resolves it into eight component patterns. Only a relative pattern is
 * combined with `base`: the standard would also prepend the base's path to an opaque path, so
 * `new URLPattern('urn:*', base)` can never match `urn:uuid:…` (URL Pattern "process a
 * URLPatternInit", pathname step), which would make URN topics impossible to match.
 */
function normalize(pattern: string, base: string): URLPattern {
  const end = protocolEnd(pattern);
  if (end > MAX_PROTOCOL_PATTERN_LENGTH) {
    throw new UrlPatternError(
      `URL pattern protocol is longer than ${MAX_PROTOCOL_PATTERN_LENGTH} characters`,
      'unsupported',
    );
  }
  if (end >= 0) {
    try {
      return new URLPattern(pattern);
    } catch {
      // Fall through: with the base, the polyfill either explains the error or (should our idea
      // of "absolute" ever differ from its own) accepts the pattern after all.
    }
  }
  try {
    // The polyfill's default is the standard's: `ignoreCase` off. We never turn it on.
    return new URLPattern(pattern, base);
  } catch (err) {
    const reason = err instanceof Error ? err.message.replace(/^Failed to construct 'URLPattern': /, '') : '';
    throw new UrlPatternError(`Invalid URL pattern: ${reason}`, 'malformed', { cause: err });
  }
}

/**
 * Runs `compiled.test(topic)` and reports its cost, to check the linear-time bound in tests and
 * benchmarks. `compiled` must come from `compileUrlPattern`.
 */
export function measureUrlPattern(compiled: CompiledUrlPattern, topic: string): UrlPatternCost {
  if (!(compiled instanceof UrlPatternMatcher)) throw new TypeError('not made by compileUrlPattern');
  const meter: StepMeter = { steps: 0 };
  const matched = compiled.run(topic, meter);
  return { matched, steps: meter.steps, states: compiled.states };
}

/**
 * The component values URL Pattern matches a string input against (the standard's "match"
 * algorithm, steps for a string `input`): straight from the parsed URL, without the `:`, `?` and `#` delimiters, with
 * default ports already dropped by the URL parser. `undefined` when the topic is not a URL.
 * The last answer is kept: every pattern on a hub tests the same topic, against the same base, in turn.
 */
function topicComponents(topic: string, base: string): string[] | undefined {
  if (topic === lastParsed.topic && base === lastParsed.base) return lastParsed.components;
  let components: string[] | undefined;
  try {
    const url = new URL(topic, base);
    components = [
      url.protocol.slice(0, -1),
      url.username,
      url.password,
      url.hostname,
      url.port,
      url.pathname,
      url.search.slice(1),
      url.hash.slice(1),
    ];
  } catch {
    components = undefined;
  }
  lastParsed = { topic, base, components };
  return components;
}

let lastParsed: { topic: string; base: string; components: string[] | undefined } = {
  topic: '',
  base: '',
  components: undefined,
};

/** A bounded cache of compiled patterns, see `createUrlPatternCache`. */
export interface UrlPatternCache {
  /** The compiled pattern, compiling it on a miss; throws `UrlPatternError` like `compileUrlPattern`. */
  get(pattern: string): CompiledUrlPattern;
  readonly size: number;
}

/**
 * An LRU cache so that each distinct pattern is compiled once while it is in use. Errors are not
 * cached: a bad pattern is cheap to refuse again, and caching it would let clients evict good ones.
 *
 * @example
 * const patterns = createUrlPatternCache(hubURL, 1000);
 * const matcher = patterns.get(query.get('match_urlpattern')!);
 */
export function createUrlPatternCache(
  baseURL: string,
  maxEntries: number,
  limits?: Partial<UrlPatternLimits>,
): UrlPatternCache {
  const entries = new Map<string, CompiledUrlPattern>();
  new URL(baseURL); // fail now, not on the first subscription
  return {
    get(pattern) {
      const hit = entries.get(pattern);
      if (hit) {
        // Re-insert so Map order is least recently used first.
        entries.delete(pattern);
        entries.set(pattern, hit);
        return hit;
      }
      const compiled = compileUrlPattern(pattern, baseURL, limits);
      entries.set(pattern, compiled);
      if (entries.size > maxEntries) entries.delete(entries.keys().next().value!);
      return compiled;
    },
    get size() {
      return entries.size;
    },
  };
}
