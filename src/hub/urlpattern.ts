/**
 * Topic matching for Mercure's `match_urlpattern` subscriptions, in linear time.
 *
 * Mercure requires URL Pattern evaluation to be bounded: "hubs MUST either use a regular
 * expression engine that guarantees linear-time matching (such as RE2) or enforce an evaluation
 * cost limit". The URL Pattern standard compiles to backtracking `RegExp`s, where
 * `/*a*a*a*a*b` take polynomial and `/{(a+)}+b` exponential time on a crafted topic. So the polyfill is used
 * only to validate a pattern and normalize its eight components against the hub URL; each
 * component is then compiled into a Thompson NFA (`urlpattern-parse.ts`, `urlpattern-nfa.ts`)
 * and matched by state-set simulation.
 */
import { URLPattern } from 'urlpattern-polyfill/urlpattern';
import { UrlPatternError } from './urlpattern-error.ts';
import { compileNfa, type Nfa, runNfa, type StateBudget, type StepMeter } from './urlpattern-nfa.ts';
import { type ComponentOptions, componentNode, protocolEnd } from './urlpattern-parse.ts';

export { UrlPatternError, type UrlPatternErrorCode } from './urlpattern-error.ts';

/** Limits applied when compiling a pattern. */
export interface UrlPatternLimits {
  /** Longest accepted pattern, in UTF-16 code units (default 1024). */
  maxPatternLength: number;
}

/** Defaults for `UrlPatternLimits`. */
export const DEFAULT_URL_PATTERN_LIMITS: Readonly<UrlPatternLimits> = { maxPatternLength: 1024 };

/**
 * Compilation budget per character of the resolved pattern: one unit per NFA state and per syntax
 * node visited. Plain syntax needs about 3; counted repetition (`\d{40}`) gets near the cap and
 * nesting it (`(?:a{99}){99}`) goes past and is refused. Matching then costs at most
 * `states × (|topic| + 1)` steps, i.e. O(|pattern| × |topic|).
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
  /** True when `topic` (absolute or relative to the base) matches. Never throws. O(|pattern| × |topic|). */
  test(topic: string): boolean;
}

/** Cost of one `test()`, as reported by `measureUrlPattern`. */
export interface UrlPatternCost {
  readonly matched: boolean;
  /** NFA state visits: at most `states × (|topic| + 1)`. */
  readonly steps: number;
  /** NFA states over all eight components. */
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
  readonly states: number;
  readonly #base: string;
  readonly #nfas: readonly Nfa[];

  constructor(pattern: string, base: string, nfas: readonly Nfa[]) {
    this.pattern = pattern;
    this.#base = base;
    this.#nfas = nfas;
    this.states = nfas.reduce((sum, nfa) => sum + nfa.size, 0);
  }

  test(topic: string): boolean {
    return this.run(topic);
  }

  run(topic: string, meter?: StepMeter): boolean {
    const values = topicComponents(topic, this.#base);
    if (!values) return false;
    return this.#nfas.every((nfa, i) => runNfa(nfa, values[i]!, meter));
  }
}

/**
 * Compiles a `match_urlpattern` value. Relative patterns resolve against `baseURL` (the hub's
 * URL), as relative topics will in `test()`; absolute ones, `urn:*` included, stand alone.
 * Matching is case-sensitive.
 *
 * Throws `UrlPatternError` for a malformed, too long or too complex pattern, or one whose regexp
 * groups use syntax outside the linear-time subset (see `urlpattern-regexp.ts`), and `TypeError`
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
  const budget: StateBudget = { remaining: MAX_STATES_PER_PATTERN_CHAR * size };
  const protocol = compileNfa(componentNode(normalized.protocol, NO_DELIMITERS), budget);
  // The standard's URLPattern constructor picks pathname options by whether the protocol pattern
  // can match a special scheme; opaque paths (`urn:…`) have no segments.
  const special = SPECIAL_SCHEMES.some((scheme) => runNfa(protocol, scheme));
  const pathname: ComponentOptions = special ? { delimiters: '/', prefixes: '/' } : NO_DELIMITERS;
  const nfas = COMPONENTS.map((c) =>
    c === 'protocol'
      ? protocol
      : compileNfa(componentNode(normalized[c], c === 'pathname' ? pathname : COMPONENT_OPTIONS[c]), budget),
  );
  return new UrlPatternMatcher(pattern, base, nfas);
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
 */
function topicComponents(topic: string, base: string): string[] | undefined {
  let url: URL;
  try {
    url = new URL(topic, base);
  } catch {
    return undefined;
  }
  return [
    url.protocol.slice(0, -1),
    url.username,
    url.password,
    url.hostname,
    url.port,
    url.pathname,
    url.search.slice(1),
    url.hash.slice(1),
  ];
}

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
