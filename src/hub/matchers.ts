import { badRequest } from './errors.ts';
import type { FormFields } from './form.ts';
import { hasControlOrFormat } from './topics.ts';
import { compileUriTemplate, isUriTemplate } from './uri-template.ts';
import { type CompiledUrlPattern, createUrlPatternCache, UrlPatternError } from './urlpattern.ts';

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

/** Compiles URL patterns once per distinct pattern and base, with a bounded cache. */
export class PatternCompiler {
  readonly #caches = new Map<string, ReturnType<typeof createUrlPatternCache>>();

  compile(pattern: string, base: string, maxLength: number): CompiledUrlPattern {
    let cache = this.#caches.get(base);
    if (!cache) {
      // Bases are few (the configured public URL, or the origins the hub is reached on); cap them anyway.
      if (this.#caches.size >= 64) this.#caches.clear();
      cache = createUrlPatternCache(base, 10_000);
      this.#caches.set(base, cache);
    }
    if (pattern.length > maxLength) throw badRequest(`URL pattern longer than ${maxLength} characters`);
    try {
      return cache.get(pattern);
    } catch (error) {
      if (error instanceof UrlPatternError) throw badRequest(`invalid match_urlpattern: ${error.message}`);
      throw error;
    }
  }
}

/**
 * Reads the matchers of a subscribe request: `match`, `match_exact`, `match_urlpattern`. Any other
 * parameter in the `match` namespace (ASCII case-insensitive) is refused, as are empty values,
 * control or format (Cf) characters, too many or too long matchers, and malformed patterns — all
 * with 400.
 * @param extra additional matcher parameters (legacy `topic` → exact… ) when enabled.
 */
export function parseMatchers(
  query: FormFields,
  base: string,
  limits: MatcherLimits,
  compiler: PatternCompiler,
  extra: Record<string, MatchType> = {},
): Subscription[] {
  const subscriptions: Subscription[] = [];
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
      subscriptions.push({
        type,
        match: value,
        pattern: compiler.compile(value, base, limits.maxMatcherLength),
      });
    } else if (type === 'uritemplate') {
      // Legacy `topic=`: a URI template when it has an expression, else an exact topic.
      if (isUriTemplate(value))
        subscriptions.push({ type, match: value, pattern: compileUriTemplate(value) });
      else subscriptions.push({ type: 'exact', match: value });
    } else subscriptions.push({ type, match: value });
  }
  if (subscriptions.length === 0) {
    throw badRequest('at least one topic matcher is required (match, match_exact or match_urlpattern)');
  }
  return subscriptions;
}

/**
 * Which subscribers want which topics. Exact matchers are one hash lookup; `*` is a set; each distinct
 * URL pattern is evaluated once per update, whatever the number of subscribers sharing it.
 */
export class SubscriptionIndex<S> {
  readonly #exact = new Map<string, Set<S>>();
  readonly #all = new Set<S>();
  readonly #patterns = new Map<CompiledUrlPattern, Set<S>>();

  add(subscriber: S, subscriptions: readonly Subscription[]): void {
    for (const s of subscriptions) {
      if (s.match === '*') this.#all.add(subscriber);
      else if (s.pattern) addTo(this.#patterns, s.pattern, subscriber);
      else addTo(this.#exact, s.match, subscriber);
    }
  }

  remove(subscriber: S, subscriptions: readonly Subscription[]): void {
    for (const s of subscriptions) {
      if (s.match === '*') this.#all.delete(subscriber);
      else if (s.pattern) removeFrom(this.#patterns, s.pattern, subscriber);
      else removeFrom(this.#exact, s.match, subscriber);
    }
  }

  /** Calls `visit` once for each subscriber with a matcher that matches at least one of `topics`. */
  forEachMatch(topics: readonly string[], visit: (subscriber: S) => void): void {
    if (topics.length === 1 && this.#all.size === 0 && this.#patterns.size === 0) {
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
    for (const [pattern, set] of this.#patterns) {
      if (topics.some((topic) => pattern.test(topic))) for (const s of set) seen.add(s);
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
