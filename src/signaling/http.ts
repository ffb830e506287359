/** Request helpers of the rooms endpoints: bounded JSON bodies and JSON answers. Web APIs only. */
import { badRequest, HubError, readBody } from '../hub/index.ts';
import { depthOf, type Json, MAX_DEPTH } from '../room-protocol/index.ts';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads a JSON body of at most `maxBytes` (413 beyond). An empty body reads as `empty`, when given.
 * @throws {HubError} 415 for another content type, 400 for invalid UTF-8 or JSON or too deep nesting.
 */
export async function readJson(request: Request, maxBytes: number, empty?: Json): Promise<Json> {
  const bytes = await readBody(request, maxBytes);
  if (bytes.length === 0 && empty !== undefined) return empty;
  const type = request.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new HubError('unsupported_media_type', 'send the body as Content-Type: application/json');
  }
  let value: Json;
  try {
    value = JSON.parse(strictUtf8.decode(bytes)) as Json;
  } catch {
    throw badRequest('the body is not valid JSON');
  }
  if (depthOf(value) > MAX_DEPTH) throw badRequest(`the body is nested deeper than ${MAX_DEPTH} levels`);
  return value;
}

/** A JSON answer that no cache keeps (it carries tokens and live state). */
export function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: {
      'content-type': 'application/json',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    },
  });
}

/** Control and format characters, refused in display names (they could disguise one name as another). */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/;

/**
 * A display name: 1–64 characters after trimming, no control or format characters; else 400 naming
 * `field` (where the name came from: the join body's `name`, or the application token's claim).
 */
export function displayName(value: unknown, field = 'name'): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw badRequest(`${field} must be a string`);
  const name = value.trim();
  if (name === '') return undefined;
  if ([...name].length > 64 || CONTROL.test(name)) {
    throw badRequest(`${field} must be at most 64 characters, without control characters`);
  }
  return name;
}
