/** HTTP header details of the subscriber: what `fetch` lets through, and how it decodes. Web APIs only. */

/** Ids sent as the `Last-Event-ID` header as they are: printable ASCII, no space at either end. */
const HEADER_SAFE = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;

/**
 * True when `id` can travel as a `Last-Event-ID` header unchanged: `fetch` only takes Latin-1 header
 * values and trims spaces at both ends.
 */
export function fitsHeader(id: string): boolean {
  return HEADER_SAFE.test(id);
}

/**
 * A header value as the hub meant it: `fetch` exposes header bytes as Latin-1, so an id with non-ASCII
 * characters that the hub wrote as UTF-8 arrives mangled. Decode it back when it is valid UTF-8.
 */
export function utf8Header(value: string | null): string | null {
  if (value === null || !/[\x80-\xff]/.test(value) || /[^\x00-\xff]/.test(value)) return value;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(value, (c) => c.charCodeAt(0)));
  } catch {
    return value;
  }
}
