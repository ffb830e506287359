import { badRequest } from './errors.ts';

/** C0 controls, DEL and C1 controls: forbidden in topics, matchers, grants, ids and types. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/**
 * Unicode format characters (Cf: zero-width joiners, bidi overrides…): forbidden in matchers, grants,
 * ids and types, but not in topics (only controls are).
 */
const FORMAT = /\p{Cf}/u;

/** True when `value` contains a C0/C1 control character or DEL. */
export const hasControl = (value: string): boolean => CONTROL.test(value);
/** True when `value` contains a control or a Unicode format (Cf) character. */
export const hasControlOrFormat = (value: string): boolean => CONTROL.test(value) || FORMAT.test(value);

/** RFC 3986 unreserved characters, the only escapes that are decoded before comparing paths. */
const UNRESERVED_ESCAPE = /%(2[dDeE]|5[fF]|7[eE]|3\d|[46][1-9a-fA-F]|[57][0-9aA])/g;

/**
 * True when `topic`, resolved as a URL reference against the hub URL (dot segments removed,
 * unreserved percent-escapes decoded), addresses the hub's own namespace (`hubPath` or below),
 * whatever its scheme or host. Such topics belong to the hub (e.g. subscription events).
 */
export function isReservedTopic(topic: string, hubUrl: URL): boolean {
  let path: string;
  try {
    path = new URL(topic, hubUrl).pathname;
  } catch {
    return false; // Not a URL reference at all: it cannot address the hub.
  }
  path = path.replace(UNRESERVED_ESCAPE, (esc) => String.fromCharCode(Number.parseInt(esc.slice(1), 16)));
  // Decoding may have revealed dot segments (`%2E%2E` is already handled by the URL parser, but be sure).
  if (path.includes('/.')) path = new URL(path, hubUrl).pathname;
  const hubPath = hubUrl.pathname;
  return path === hubPath || path.startsWith(`${hubPath}/`);
}

/**
 * Checks one publish topic: non-empty, no control characters, not `*`, not in the hub namespace.
 * @throws {HubError} 400 with a message naming the rule.
 */
export function checkPublishTopic(topic: string, hubUrl: URL): void {
  if (topic === '') throw badRequest('topic must not be empty');
  if (hasControl(topic)) throw badRequest('topic must not contain control characters');
  if (topic === '*') throw badRequest('"*" is not a topic: it is reserved as the match-all wildcard');
  if (isReservedTopic(topic, hubUrl)) {
    throw badRequest(`topic addresses the hub's reserved namespace ${hubUrl.pathname}`);
  }
}
