/** Small HTTP helpers the conformance suite uses against a {@link Target}. */
import { openStream } from '../helpers/sse.ts';
import { publisherToken } from './target.ts';

export const HUB = '/.well-known/mercure';

let cachedToken: Promise<string> | undefined;

/** POSTs a publish form (raw string body, or fields). Returns status, body and headers. */
export async function publish(
  base: string,
  form: string | Array<[string, string]> | Record<string, string>,
  options: { token?: string | null; contentType?: string } = {},
) {
  const body = typeof form === 'string' ? form : new URLSearchParams(form).toString();
  const headers: Record<string, string> = {
    'content-type': options.contentType ?? 'application/x-www-form-urlencoded',
  };
  cachedToken ??= publisherToken();
  const token = options.token === undefined ? await cachedToken : options.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const response = await fetch(base + HUB, { method: 'POST', headers, body });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

/** Publishes and expects 200; returns the update id. */
export async function publishOk(base: string, form: Parameters<typeof publish>[1]): Promise<string> {
  const result = await publish(base, form);
  if (result.status !== 200) throw new Error(`publish failed: ${result.status} ${result.text}`);
  return result.text;
}

/** Opens a subscription; `query` is appended raw (already encoded) after `?`. */
export function subscribe(base: string, query: string, headers: Record<string, string> = {}) {
  return openStream(`${base}${HUB}?${query}`, headers);
}

/** A topic no other test uses. */
export const uniqueTopic = (name = 't') => `/conformance/${name}/${crypto.randomUUID()}`;

/** Reads one Prometheus metric value. */
export async function metric(base: string, name: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (!line) throw new Error(`metric ${name} missing`);
  return Number(line.slice(name.length + 1));
}

export const q = encodeURIComponent;

const COMPOSITE = /^~[0-9a-z]{1,11}(?:\.[0-9a-z]{1,11})*~/;

/**
 * The update id of a composite event id (`~{positions}~{update id}`, see `Capabilities.compositeIds`);
 * any other id as it is.
 */
export const updateIdOf = (id: string): string => id.replace(COMPOSITE, '');
