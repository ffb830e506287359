// Placeholder until the linear-time matcher lands: same API, backed by the URL Pattern polyfill.
import { URLPattern } from 'urlpattern-polyfill/urlpattern';

/** Thrown for a malformed, unsupported or too-long pattern; `message` is safe to show to clients. */
export class UrlPatternError extends Error {}

export interface UrlPatternLimits {
  maxPatternLength: number;
}

export interface CompiledUrlPattern {
  readonly pattern: string;
  test(topic: string): boolean;
}

export function compileUrlPattern(
  pattern: string,
  baseURL: string,
  limits: Partial<UrlPatternLimits> = {},
): CompiledUrlPattern {
  if (pattern.length > (limits.maxPatternLength ?? 1024))
    throw new UrlPatternError('URL pattern is too long');
  let compiled: URLPattern;
  try {
    compiled = new URLPattern(pattern, baseURL);
  } catch {
    throw new UrlPatternError('malformed URL pattern');
  }
  return {
    pattern,
    test(topic) {
      try {
        return compiled.test(topic, baseURL);
      } catch {
        return false;
      }
    },
  };
}

export function createUrlPatternCache(baseURL: string, maxEntries = 10_000) {
  const cache = new Map<string, CompiledUrlPattern>();
  return {
    get(pattern: string): CompiledUrlPattern {
      let hit = cache.get(pattern);
      if (!hit) {
        hit = compileUrlPattern(pattern, baseURL);
        if (cache.size >= maxEntries) cache.delete(cache.keys().next().value!);
        cache.set(pattern, hit);
      }
      return hit;
    },
  };
}
