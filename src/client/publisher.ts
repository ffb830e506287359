/** Publishing to a Mercure hub with `fetch`. Web APIs only: it ships in the browser bundle. */
import { bearer, ClientError, httpError } from './errors.ts';

/** One update, as the hub's publish form takes it. */
export interface PublishUpdate {
  /** The topic, or several: the first is canonical, the others alternates. At least one. */
  topics: string | readonly string[];
  /** The payload (any text; line breaks are fine). */
  data?: string;
  /** Only subscribers allowed to read one of the topics receive it. */
  private?: boolean;
  /** The event id; the hub generates one when omitted. */
  id?: string;
  /** The SSE event type (`event:`); `mercure` is reserved. */
  type?: string;
  /** Reconnection delay (ms) for subscribers that receive it. */
  retry?: number;
}

export interface PublishOptions {
  /** The publisher's bearer token. Without it the request relies on a cookie or anonymous publishing. */
  token?: string;
  /** `fetch` credentials mode; `include` sends the hub's cookie cross-origin. */
  credentials?: RequestCredentials;
  signal?: AbortSignal;
  /** The `fetch` to use. Default: the global one. */
  fetch?: (input: string, init: RequestInit) => Promise<Response>;
}

/**
 * Publishes an update and resolves with its id.
 *
 * @throws {ClientError} `http` with the status and the hub's message (400 bad field, 401/403 token,
 *   413 too large…), `network` when the hub is unreachable, `aborted` when `signal` aborts, `token`
 *   when the token cannot be a bearer token.
 * @example
 * const id = await publish('https://example.com/.well-known/mercure',
 *   { topics: '/chat', data: JSON.stringify({ text: 'hi' }) }, { token });
 */
export async function publish(
  hubUrl: string | URL,
  update: PublishUpdate,
  options: PublishOptions = {},
): Promise<string> {
  const topics = typeof update.topics === 'string' ? [update.topics] : update.topics;
  if (topics.length === 0) throw new TypeError('publish: at least one topic is required');
  if (update.retry !== undefined && !(Number.isSafeInteger(update.retry) && update.retry >= 0)) {
    throw new TypeError('publish: retry must be a non-negative integer');
  }
  // URLSearchParams encodes as UTF-8 application/x-www-form-urlencoded, which the hub requires.
  const body = new URLSearchParams();
  for (const topic of topics) body.append('topic', topic);
  if (update.data !== undefined) body.set('data', update.data);
  if (update.private) body.set('private', 'on');
  if (update.id !== undefined) body.set('id', update.id);
  if (update.type !== undefined) body.set('type', update.type);
  if (update.retry !== undefined) body.set('retry', String(update.retry));

  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (options.token) headers.authorization = bearer(options.token);
  const base = (globalThis as { location?: { href: string } }).location?.href;
  const url = new URL(hubUrl, base).href;
  const request = options.fetch ?? ((input: string, init: RequestInit) => fetch(input, init));
  let response: Response;
  try {
    response = await request(url, {
      method: 'POST',
      headers,
      body: body.toString(),
      credentials: options.credentials,
      signal: options.signal,
    });
  } catch (cause) {
    if (options.signal?.aborted) throw new ClientError('aborted', 'publish aborted', undefined, { cause });
    throw new ClientError('network', 'could not reach the hub', undefined, { cause });
  }
  if (!response.ok) throw await httpError(response, 'publish');
  return response.text();
}
