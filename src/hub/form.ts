import { concat } from '../sse/index.ts';
import { badRequest, HubError } from './errors.ts';

/** `ignoreBOM`: a leading U+FEFF is part of the value (a TextDecoder would silently drop it). */
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8 = new TextEncoder();

/** Ordered name/value pairs, as `application/x-www-form-urlencoded` allows repeated names. */
export type FormFields = Array<[name: string, value: string]>;

/**
 * Parses `application/x-www-form-urlencoded` bytes like the URL Standard, except that invalid UTF-8
 * is refused (400) instead of silently replaced with U+FFFD: the protocol requires valid UTF-8, and a
 * replaced topic would quietly address another resource.
 * @throws {HubError} 400 when a name or value is not valid UTF-8.
 */
export function parseForm(bytes: Uint8Array): FormFields {
  const fields: FormFields = [];
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    if (i < bytes.length && bytes[i] !== 0x26 /* & */) continue;
    if (i > start) {
      const pair = bytes.subarray(start, i);
      const eq = pair.indexOf(0x3d /* = */);
      fields.push(
        eq === -1 ? [decode(pair), ''] : [decode(pair.subarray(0, eq)), decode(pair.subarray(eq + 1))],
      );
    }
    start = i + 1;
  }
  return fields;
}

/** Parses a URL's query (`url.search`, with or without the leading `?`) strictly; see {@link parseForm}. */
export function parseQuery(search: string): FormFields {
  const query = search.startsWith('?') ? search.slice(1) : search;
  // A URL's query is ASCII (anything else arrives percent-encoded): parsed as text, it needs no
  // bytes; text that is not goes the byte way, with the same result.
  if (!ASCII.test(query)) return parseForm(utf8.encode(query));
  const fields: FormFields = [];
  for (const pair of query.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    fields.push(
      eq === -1 ? [decodeText(pair), ''] : [decodeText(pair.slice(0, eq)), decodeText(pair.slice(eq + 1))],
    );
  }
  return fields;
}

const ASCII = /^[\x00-\x7f]*$/;

/** {@link decode} for ASCII text: `decodeURIComponent` where it agrees (well-formed escapes of valid UTF-8). */
function decodeText(raw: string): string {
  const plus = raw.includes('+');
  if (!plus && !raw.includes('%')) return raw;
  const spaced = plus ? raw.replaceAll('+', ' ') : raw;
  if (!raw.includes('%')) return spaced;
  try {
    return decodeURIComponent(spaced);
  } catch {
    // A malformed escape (kept literally) or invalid UTF-8 (refused): the byte way decides.
    return decode(utf8.encode(raw));
  }
}

function decode(raw: Uint8Array): string {
  let bytes = raw;
  if (raw.includes(0x25 /* % */) || raw.includes(0x2b /* + */)) {
    bytes = new Uint8Array(raw.length);
    let j = 0;
    for (let i = 0; i < raw.length; i++) {
      const b = raw[i]!;
      if (b === 0x2b) bytes[j++] = 0x20;
      else if (b === 0x25 && i + 2 < raw.length && isHex(raw[i + 1]!) && isHex(raw[i + 2]!)) {
        bytes[j++] = (hexValue(raw[i + 1]!) << 4) | hexValue(raw[i + 2]!);
        i += 2;
      } else bytes[j++] = b; // A malformed escape stays literal, as in the URL Standard.
    }
    bytes = bytes.subarray(0, j);
  }
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw badRequest('form fields and query parameters must be valid UTF-8');
  }
}

const isHex = (b: number) => (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66);
const hexValue = (b: number) => (b <= 0x39 ? b - 0x30 : (b | 0x20) - 0x57);

/**
 * Reads a request body up to `maxBytes`, refusing more with 413 without buffering it (the declared
 * `Content-Length` is checked first, then the bytes actually received).
 */
export async function readBody(request: Request, maxBytes: number): Promise<Uint8Array> {
  const declared = request.headers.get('content-length');
  if (declared !== null && Number(declared) > maxBytes) throw tooLarge(maxBytes);
  // A declared length within the bound is what the body holds (the runtime enforces HTTP framing):
  // read it in one piece, sparing a stream reader per request.
  if (declared !== null && DIGITS.test(declared) && !request.headers.has('transfer-encoding')) {
    const body = new Uint8Array(await request.arrayBuffer());
    if (body.byteLength > maxBytes) throw tooLarge(maxBytes);
    return body;
  }
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  return chunks.length === 0 ? new Uint8Array(0) : concat(chunks);
}

const DIGITS = /^\d{1,15}$/;

const tooLarge = (max: number) =>
  new HubError('payload_too_large', `request body is larger than ${max} bytes`);
