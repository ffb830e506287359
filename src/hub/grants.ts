/**
 * What a token allows: the `authorization_details` of the current draft, and the `mercure` claim of
 * the pre-standardization dialect, both turned into topic selectors that are compiled once per token.
 */

import type { CompiledUrlPattern } from '../urlpattern/index.ts';
import { compileUriTemplate, isUriTemplate } from '../urlpattern/index.ts';
import type { MatchType } from './matchers.ts';
import { hasControlOrFormat } from './topics.ts';

/** The `type` of the authorization details entries this hub reads (RFC 9396). */
export const AUTHORIZATION_DETAIL_TYPE = 'https://mercure.rocks/authorization-detail';

/** A compiled topic selector of a grant. */
export type TopicSelector = (topic: string) => boolean;

/** The rights a token carries. */
export interface Grants {
  publish: TopicSelector[];
  subscribe: TopicSelector[];
  /** The `payload` attached to the token's subscriptions (shown in subscription events). */
  payload?: unknown;
}

/** The token's grants are malformed: the whole token is invalid. */
export class MalformedGrants extends Error {
  override readonly name = 'MalformedGrants';
}

/** Compiles a `urlpattern` grant; throws for a malformed pattern (which invalidates the token). */
export type PatternCompile = (pattern: string) => CompiledUrlPattern;

const everything: TopicSelector = () => true;

/** True when any selector accepts the topic. */
export const allows = (selectors: readonly TopicSelector[], topic: string): boolean =>
  selectors.some((select) => select(topic));

/** A token without any grant (anonymous-equivalent rights, still authenticated). */
export const noGrants = (): Grants => ({ publish: [], subscribe: [] });

/** Most entries and topics read from one token: beyond that the token is refused, not truncated. */
const MAX_ENTRIES = 64;
const MAX_TOPICS = 256;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Reads `authorization_details` (absent: no grants). Entries of other types are for other resource
 * servers and are skipped. An entry of our type is valid or it invalidates the whole token: the draft
 * forbids accepting part of a token. Valid means non-empty `actions` (strings) and `topics`, each topic
 * a non-empty `match` without control or format characters and a known `match_type` (a well-formed
 * pattern for `urlpattern`), and a `payload`, when present, that is a JSON object. Unknown actions
 * grant nothing.
 * @throws {MalformedGrants}
 */
export function grantsFromAuthorizationDetails(details: unknown, compile: PatternCompile): Grants {
  const grants = noGrants();
  if (details === undefined) return grants;
  if (!Array.isArray(details)) throw new MalformedGrants('authorization_details must be an array');
  if (details.length > MAX_ENTRIES) throw new MalformedGrants('too many authorization_details entries');
  for (const entry of details) {
    if (!isObject(entry) || typeof entry.type !== 'string') {
      throw new MalformedGrants('each authorization_details entry must be an object with a type');
    }
    if (entry.type !== AUTHORIZATION_DETAIL_TYPE) continue;
    const { actions, topics } = entry;
    if (!Array.isArray(actions) || actions.length === 0 || !actions.every((a) => typeof a === 'string')) {
      throw new MalformedGrants('actions must be a non-empty array of strings');
    }
    if (!Array.isArray(topics) || topics.length === 0 || topics.length > MAX_TOPICS) {
      throw new MalformedGrants('topics must be a non-empty array');
    }
    if ('payload' in entry && !isObject(entry.payload)) {
      throw new MalformedGrants('payload must be a JSON object');
    }
    const selectors = topics.map((topic) => selectorOf(topic, compile));
    if (actions.includes('publish')) grants.publish.push(...selectors);
    if (actions.includes('subscribe')) {
      grants.subscribe.push(...selectors);
      if ('payload' in entry && grants.payload === undefined) grants.payload = entry.payload;
    }
  }
  return grants;
}

function selectorOf(topic: unknown, compile: PatternCompile): TopicSelector {
  if (!isObject(topic) || typeof topic.match !== 'string' || topic.match === '') {
    throw new MalformedGrants('each topic must be an object with a non-empty match');
  }
  const match = topic.match;
  // As in subscribe matchers: such characters make a grant look like another one.
  if (hasControlOrFormat(match)) {
    throw new MalformedGrants('match must not hold control or format characters');
  }
  const type = topic.match_type === undefined ? 'exact' : topic.match_type;
  if (type !== 'exact' && type !== 'urlpattern') throw new MalformedGrants('unknown match_type');
  if (match === '*') return everything;
  if ((type satisfies MatchType) === 'exact') return (candidate) => candidate === match;
  let pattern: CompiledUrlPattern;
  try {
    pattern = compile(match);
  } catch {
    throw new MalformedGrants('malformed URL pattern');
  }
  return (candidate) => pattern.test(candidate);
}

/**
 * Reads the pre-standardization `mercure` claim: `{publish: [...], subscribe: [...], payload}` whose
 * selectors are `*`, an exact topic or a URI template. Absent: no grants.
 * @throws {MalformedGrants} when the claim or one of its lists has the wrong shape.
 */
export function grantsFromMercureClaim(claim: unknown): Grants {
  const grants = noGrants();
  if (claim === undefined || claim === null) return grants;
  if (!isObject(claim)) throw new MalformedGrants('the mercure claim must be an object');
  grants.publish = legacySelectors(claim.publish);
  grants.subscribe = legacySelectors(claim.subscribe);
  if ('payload' in claim) grants.payload = claim.payload;
  return grants;
}

function legacySelectors(list: unknown): TopicSelector[] {
  // Libraries write `null` for "nothing" (e.g. an empty PHP array serialized by some encoders).
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list) || list.length > MAX_TOPICS || !list.every((s) => typeof s === 'string')) {
    throw new MalformedGrants('mercure.publish and mercure.subscribe must be arrays of strings');
  }
  return list.map(legacySelector);
}

/** One legacy topic selector: `*`, a URI template, or an exact topic. */
export function legacySelector(selector: string): TopicSelector {
  if (selector === '*') return everything;
  if (isUriTemplate(selector)) {
    const template = compileUriTemplate(selector);
    return (topic) => topic === selector || template.test(topic);
  }
  return (topic) => topic === selector;
}

/** Merges grants (legacy mode reads both claims). */
export function mergeGrants(a: Grants, b: Grants): Grants {
  return {
    publish: [...a.publish, ...b.publish],
    subscribe: [...a.subscribe, ...b.subscribe],
    payload: a.payload !== undefined ? a.payload : b.payload,
  };
}
