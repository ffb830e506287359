/**
 * Linear-time topic matching: WHATWG URL Patterns (Mercure's `match_urlpattern`, and URL pattern
 * grants in tokens) and RFC 6570 URI templates (the legacy dialect's selectors), compiled once into
 * deterministic automata under a budget. Imports nothing from the rest of ssehub.
 */

export { BASE_COST, MAX_COMPILE_WORK, MAX_TABLE_ENTRIES, PARSE_COST_PER_CHAR } from './matcher.ts';
export {
  type CompiledUrlPattern,
  compileUrlPattern,
  createUrlPatternCache,
  DEFAULT_URL_PATTERN_LIMITS,
  measureUrlPattern,
  type UrlPatternCache,
  type UrlPatternCost,
  UrlPatternError,
  type UrlPatternErrorCode,
  type UrlPatternLimits,
} from './pattern.ts';
export { compileUriTemplate, isUriTemplate } from './uri-template.ts';
