import {
  type CompiledUrlPattern,
  compileUriTemplate,
  compileUrlPattern,
  isUriTemplate,
  UrlPatternError,
} from '../urlpattern/index.ts';
import { badRequest } from './errors.ts';
import type { FormFields } from './form.ts';
import { hasControlOrFormat } from './topics.ts';

/**
 * The matcher types of the protocol, as they appear in subscription events and tokens, plus the URI
 * templates of the legacy `topic=` parameter.
 */
export type MatchType = 'exact' | 'urlpattern' | 'uritemplate';

/** One topic matcher of a subscriber: each is a subscription in Mercure's sense. */
export interface Subscription {
  readonly type: MatchType;
  /** The matcher as given; `*` matches every topic whatever the type. */
  readonly match: string;
  /** The compiled pattern, for `urlpattern` (and `uritemplate`) matchers other than `*`. */
  readonly pattern?: CompiledUrlPattern;
}

/** Subscribe query parameter → matcher type. Names are case-sensitive. */
const matcherParams: Record<string, MatchType> = {
  match: 'exact',
  match_exact: 'exact',
  match_urlpattern: 'urlpattern',
};

export interface MatcherLimits {
  maxMatchers: number;
  maxMatcherLength: number;
}

/**
 * What compiling the patterns of one request (its URL patterns and URI templates, or a token's URL
 * pattern grants) may cost in all, in the units of `CompiledUrlPattern.cost`: about 20 ms on Node 20.
 * Each pattern counts whether it was compiled now or found in the cache, so the answer to a request
 * never depends on what other clients did.
 */
export const MAX_COMPILE_COST_PER_REQUEST = 200_000;

/** Longest stretch of compiling in one turn of the event loop, in ms, before other requests get theirs. */
const YIELD_AFTER_MS = 5;

/** Characters of automata keys the compiler's cache may hold (about what their tables take). */
const CACHE_WEIGHT = 4_000_000;

/**
 * Compiles URL patterns (and legacy URI templates) once per distinct source and base, with a cache
 * bounded in memory, and hands out one shared object per distinct automaton: `/books/:id` and
 * `/books/:bookId` get the same matcher, which remembers its last answer, so every subscription and
 * grant holding either costs one test per topic.
 */
export class PatternCompiler {
  /** `base \n source` → compiled, least recently used first. */
  readonly #bySource = new Map<string, CompiledUrlPattern>();
  /** Automaton key → the shared object, and how many cached sources point at it. */
  readonly #byKey = new Map<string, { pattern: CompiledUrlPattern; sources: number }>();
  #weight = 0;

  /**
   * The compiled URL pattern, relative to `base`.
   * @throws {HubError} 400 for a malformed, too long or too complex pattern.
   */
  compile(pattern: string, base: string, maxLength: number): CompiledUrlPattern {
    if (pattern.length > maxLength) throw badRequest(`URL pattern longer than ${maxLength} characters`);
    return this.#get(`${base}\n${pattern}`, () => {
      try {
        return compileUrlPattern(pattern, base, { maxPatternLength: maxLength });
      } catch (error) {
        if (error instanceof UrlPatternError) throw badRequest(`invalid match_urlpattern: ${error.message}`);
        throw error;
      }
    });
  }

  /**
   * The compiled legacy URI template (`topic=` selectors).
   * @throws {HubError} 400 for a template too complex to match quickly.
   */
  template(template: string): CompiledUrlPattern {
    return this.#get(`\n${template}`, () => {
      try {
        return compileUriTemplate(template);
      } catch (error) {
        if (error instanceof UrlPatternError) throw badRequest(`invalid URI template: ${error.message}`);
        throw error;
      }
    });
  }

  /** The compiled pattern if it is in the cache; never compiles. */
  cached(pattern: string, base: string): CompiledUrlPattern | undefined {
    return this.#bySource.get(`${base}\n${pattern}`);
  }

  /** The compiled template if it is in the cache; never compiles. */
  cachedTemplate(template: string): CompiledUrlPattern | undefined {
    return this.#bySource.get(`\n${template}`);
  }

  #get(source: string, compile: () => CompiledUrlPattern): CompiledUrlPattern {
    const hit = this.#bySource.get(source);
    if (hit) {
      this.#bySource.delete(source);
      this.#bySource.set(source, hit);
      return hit;
    }
    // Errors are not cached: a bad pattern is cheap to refuse again, and caching it would let clients
    // evict good ones.
    const compiled = compile();
    const shared = this.#byKey.get(compiled.key);
    const pattern = shared ? shared.pattern : compiled;
    if (shared) shared.sources++;
    else {
      this.#byKey.set(compiled.key, { pattern, sources: 1 });
      this.#weight += compiled.key.length;
    }
    this.#bySource.set(source, pattern);
    while (this.#weight > CACHE_WEIGHT && this.#bySource.size > 1) this.#evictOldest();
    return pattern;
  }

  #evictOldest(): void {
    const [source, pattern] = this.#bySource.entries().next().value!;
    this.#bySource.delete(source);
    const shared = this.#byKey.get(pattern.key)!;
    if (--shared.sources === 0) {
      this.#byKey.delete(pattern.key);
      this.#weight -= pattern.key.length;
    }
  }
}

/** Charges compiled patterns to one request's budget. */
export class CompileBudget {
  #left = MAX_COMPILE_COST_PER_REQUEST;

  /**
   * @throws {HubError} 400 (built by `refuse`) once the patterns cost more than one request may.
   */
  charge(pattern: CompiledUrlPattern, refuse: (message: string) => Error = badRequest): void {
    this.#left -= pattern.cost;
    if (this.#left < 0) {
      throw refuse('the URL patterns of this request are too complex in total; use fewer or simpler ones');
    }
  }
}

/**
 * At most how many distinct patterns the matchers of `query` would add to those `held` — counted
 * without compiling anything (a pattern that is not in the compiler's cache counts as new), so that a
 * hub with no room left refuses a request before spending its compile budget on it.
 */
export function newPatternsAtMost(
  query: FormFields,
  base: string,
  compiler: PatternCompiler,
  held: (pattern: CompiledUrlPattern) => boolean,
  extra: Record<string, MatchType> = {},
): number {
  let count = 0;
  for (const [name, value] of query) {
    const type = matcherParams[name] ?? extra[name];
    if (value === '*' || (type !== 'urlpattern' && !(type === 'uritemplate' && isUriTemplate(value))))
      continue;
    const cached = type === 'urlpattern' ? compiler.cached(value, base) : compiler.cachedTemplate(value);
    if (!cached || !held(cached)) count++;
  }
  return count;
}

/**
 * Reads the matchers of a subscribe request: `match`, `match_exact`, `match_urlpattern`. Any other
 * parameter in the `match` namespace (ASCII case-insensitive) is refused, as are empty values,
 * control or format (Cf) characters, too many or too long matchers, and malformed patterns — all
 * with 400.
 * @param extra additional matcher parameters (legacy `topic` → exact… ) when enabled.
 */
export async function parseMatchers(
  query: FormFields,
  base: string,
  limits: MatcherLimits,
  compiler: PatternCompiler,
  extra: Record<string, MatchType> = {},
): Promise<Subscription[]> {
  const subscriptions: Subscription[] = [];
  const budget = new CompileBudget();
  // Compiling many new patterns takes a while: let other requests in every few milliseconds.
  let since = performance.now();
  const pause = async () => {
    if (performance.now() - since < YIELD_AFTER_MS) return;
    await new Promise((resolve) => setTimeout(resolve, 0));
    since = performance.now();
  };
  for (const [name, value] of query) {
    const type = matcherParams[name] ?? extra[name];
    if (type === undefined) {
      if (name.slice(0, 5).toLowerCase() === 'match') {
        throw badRequest(`unknown matcher parameter "${name}" (use match, match_exact or match_urlpattern)`);
      }
      continue;
    }
    if (subscriptions.length === limits.maxMatchers) {
      throw badRequest(`too many topic matchers (at most ${limits.maxMatchers})`);
    }
    if (value === '') throw badRequest(`${name} must not be empty`);
    if (value.length > limits.maxMatcherLength) {
      throw badRequest(`${name} longer than ${limits.maxMatcherLength} characters`);
    }
    // Format characters (zero-width, bidi, U+FEFF) would make a matcher look like another one.
    if (hasControlOrFormat(value)) {
      throw badRequest(`${name} must not contain control or format characters`);
    }
    if (type === 'urlpattern' && value !== '*') {
      const pattern = compiler.compile(value, base, limits.maxMatcherLength);
      budget.charge(pattern);
      subscriptions.push({ type, match: value, pattern });
      await pause();
    } else if (type === 'uritemplate') {
      // Legacy `topic=`: a URI template when it has an expression, else an exact topic.
      if (isUriTemplate(value)) {
        const pattern = compiler.template(value);
        budget.charge(pattern);
        subscriptions.push({ type, match: value, pattern });
        await pause();
      } else subscriptions.push({ type: 'exact', match: value });
    } else subscriptions.push({ type, match: value });
  }
  if (subscriptions.length === 0) {
    throw badRequest('at least one topic matcher is required (match, match_exact or match_urlpattern)');
  }
  return subscriptions;
}

/** The subscribers holding one distinct pattern (by what it matches, see `CompiledUrlPattern.key`). */
interface PatternEntry<S> {
  readonly pattern: CompiledUrlPattern;
  readonly subscribers: Set<S>;
  /** How many of them may read private updates at all (they have a token): 0 skips private updates. */
  readers: number;
}

/**
 * Which subscribers want which topics. Exact matchers are one hash lookup; `*` is a set; each distinct
 * pattern (by what it matches, whatever its source text) is tested once per topic, whatever the number
 * of subscribers sharing it, and not at all for a private update when none of them has a token.
 */
export class SubscriptionIndex<S> {
  readonly #exact = new Map<string, Set<S>>();
  readonly #all = new Set<S>();
  readonly #patterns = new Map<string, PatternEntry<S>>();
  /** The entries with at least one reader: the only ones a private update is tested against. */
  readonly #readable = new Set<PatternEntry<S>>();

  /** Distinct patterns held. */
  get patterns(): number {
    return this.#patterns.size;
  }

  /** True when some subscriber holds this pattern (or one that matches alike). */
  holds(pattern: CompiledUrlPattern): boolean {
    return this.#patterns.has(pattern.key);
  }

  /** How many distinct patterns adding these subscriptions would add. */
  newPatterns(subscriptions: readonly Subscription[]): number {
    const fresh = new Set<string>();
    for (const s of subscriptions) {
      if (s.match !== '*' && s.pattern && !this.#patterns.has(s.pattern.key)) fresh.add(s.pattern.key);
    }
    return fresh.size;
  }

  /** @param reader the subscriber has a token, so private updates may be for it. */
  add(subscriber: S, subscriptions: readonly Subscription[], reader: boolean): void {
    for (const s of subscriptions) {
      if (s.match === '*') this.#all.add(subscriber);
      else if (s.pattern) {
        let entry = this.#patterns.get(s.pattern.key);
        if (!entry) {
          entry = { pattern: s.pattern, subscribers: new Set(), readers: 0 };
          this.#patterns.set(s.pattern.key, entry);
        }
        if (!entry.subscribers.has(subscriber)) {
          entry.subscribers.add(subscriber);
          if (reader && entry.readers++ === 0) this.#readable.add(entry);
        }
      } else addTo(this.#exact, s.match, subscriber);
    }
  }

  remove(subscriber: S, subscriptions: readonly Subscription[], reader: boolean): void {
    for (const s of subscriptions) {
      if (s.match === '*') this.#all.delete(subscriber);
      else if (s.pattern) {
        const entry = this.#patterns.get(s.pattern.key);
        if (!entry?.subscribers.delete(subscriber)) continue;
        if (reader && --entry.readers === 0) this.#readable.delete(entry);
        if (entry.subscribers.size === 0) this.#patterns.delete(s.pattern.key);
      } else removeFrom(this.#exact, s.match, subscriber);
    }
  }

  /** Calls `visit` once for each subscriber with a matcher that matches at least one of `topics`. */
  forEachMatch(topics: readonly string[], isPrivate: boolean, visit: (subscriber: S) => void): void {
    if (
      topics.length === 1 &&
      this.#all.size === 0 &&
      (isPrivate ? this.#readable : this.#patterns).size === 0
    ) {
      // The hot path: one topic, exact matchers only — no de-duplication needed.
      const set = this.#exact.get(topics[0]!);
      if (set) for (const s of set) visit(s);
      return;
    }
    const seen = new Set<S>(this.#all);
    for (const topic of topics) {
      const set = this.#exact.get(topic);
      if (set) for (const s of set) seen.add(s);
    }
    for (const entry of isPrivate ? this.#readable : this.#patterns.values()) {
      if (topics.some((topic) => entry.pattern.test(topic))) for (const s of entry.subscribers) seen.add(s);
    }
    for (const s of seen) visit(s);
  }
}

function addTo<K, S>(map: Map<K, Set<S>>, key: K, subscriber: S): void {
  const set = map.get(key);
  if (set) set.add(subscriber);
  else map.set(key, new Set([subscriber]));
}

function removeFrom<K, S>(map: Map<K, Set<S>>, key: K, subscriber: S): void {
  const set = map.get(key);
  if (!set) return;
  set.delete(subscriber);
  if (set.size === 0) map.delete(key);
}
