/** What went wrong in a hub request, as a closed set; each maps to one HTTP status. */
export type HubErrorCode =
  | 'bad_request'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'too_many_requests'
  | 'unavailable';

const statusOf: Record<HubErrorCode, number> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  too_many_requests: 429,
  unavailable: 503,
};

/**
 * The one error type of the hub layer. Thrown by validation and authorization, turned into a
 * `text/plain` response; `message` is safe to show to clients. It has Hono's `getResponse()`, so any
 * Hono app renders it with its default error handler: sub-apps need no `onError` of their own (one
 * would make `app.route()` wrap every handler of theirs, at a cost on every request).
 */
export class HubError extends Error {
  override readonly name = 'HubError';
  readonly status: number;
  readonly code: HubErrorCode;
  /** Extra response headers, e.g. a `WWW-Authenticate` challenge. */
  readonly headers: Record<string, string>;

  constructor(code: HubErrorCode, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.code = code;
    this.headers = headers;
    this.status = statusOf[code];
  }

  /** The HTTP response, as Hono's default error handler asks for it. */
  getResponse(): Response {
    return this.toResponse();
  }

  /** The HTTP response for this error. */
  toResponse(extraHeaders?: Headers): Response {
    const headers = new Headers(extraHeaders);
    headers.set('content-type', 'text/plain; charset=utf-8');
    // Messages may quote the request (a topic, an origin): never let a browser sniff them into HTML.
    headers.set('x-content-type-options', 'nosniff');
    for (const [name, value] of Object.entries(this.headers)) headers.set(name, value);
    return new Response(`${this.message}\n`, { status: this.status, headers });
  }
}

/** Shorthand for a 400. */
export const badRequest = (message: string) => new HubError('bad_request', message);

/** The error handler of the whole app: hub errors as they are, anything else logged and a bare 500. */
export function errorResponse(error: unknown): Response {
  if (error instanceof HubError) return error.toResponse();
  console.error('ssehub: unexpected error', error);
  return new Response('internal error\n', {
    status: 500,
    headers: { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' },
  });
}

/** The answer to a path nothing serves. */
export const notFound = (): Response => new HubError('not_found', 'not found').toResponse();
