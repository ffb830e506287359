/** The client's one error type. Web APIs only: this file ships in the browser bundle. */

/**
 * What went wrong, as a closed set:
 * - `http`: the hub answered with an error status (see `status` and `message`, the hub's own text);
 * - `network`: the request failed or the connection was cut;
 * - `timeout`: nothing arrived (not even a heartbeat) for `idleTimeout` ms;
 * - `protocol`: the response is not an event stream (wrong status or content type);
 * - `token`: the token provider threw;
 * - `aborted`: the caller aborted (`close()`, an `AbortSignal`).
 */
export type ClientErrorCode = 'http' | 'network' | 'timeout' | 'protocol' | 'token' | 'aborted';

/**
 * An error from the hub or on the way to it.
 *
 * @example
 * try { await publish(hub, { topics: '/chat', data: 'hi' }) }
 * catch (error) { if (error instanceof ClientError && error.status === 403) askForANewToken() }
 */
export class ClientError extends Error {
  override readonly name = 'ClientError';
  readonly code: ClientErrorCode;
  /** The HTTP status, for `http` and `protocol` errors. */
  readonly status?: number;

  constructor(code: ClientErrorCode, message: string, status?: number, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.status = status;
  }
}

/** RFC 6750 `b64token`: anything else cannot travel in an `Authorization` header as is. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * The `Authorization` header value for `token`. Checked here because `fetch` rejects a bad header
 * value with a `TypeError` that would pass for a network failure.
 * @throws {ClientError} `token` when it is not a bearer token.
 */
export function bearer(token: string): string {
  if (!B64TOKEN.test(token))
    throw new ClientError('token', 'the token is not a bearer token (RFC 6750 b64token)');
  return `Bearer ${token}`;
}

/** Longest hub message kept in an error: hubs answer with one short line. */
const MAX_MESSAGE = 1024;

/** Builds the `http` error for a response, with the hub's text (trimmed, bounded) as the message. */
export async function httpError(response: Response, what: string): Promise<ClientError> {
  let text = '';
  try {
    text = (await response.text()).trim().slice(0, MAX_MESSAGE);
  } catch {
    // A body cut mid-way still leaves the status to report.
  }
  const detail = text || response.statusText || 'no message';
  return new ClientError('http', `${what} failed with HTTP ${response.status}: ${detail}`, response.status);
}

/** The `protocol` error for a response that is not an event stream (EventSource fails those too). */
export function protocolError(response: Response): ClientError {
  const type = response.headers.get('content-type') ?? 'none';
  return new ClientError(
    'protocol',
    `expected an event stream, got HTTP ${response.status} with content type ${type}`,
    response.status,
  );
}

/** True when `error` is the rejection of an aborted fetch or wait. */
export function isAbort(error: unknown): boolean {
  return error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError');
}

/**
 * Reports an exception thrown by an application callback without breaking the caller's loop, the way
 * `EventTarget` does: `reportError` in browsers, Deno, Bun and Workers; `console.error` elsewhere.
 */
export function report(error: unknown): void {
  const global = globalThis as { reportError?: (error: unknown) => void };
  if (typeof global.reportError === 'function') global.reportError(error);
  else console.error(error);
}
