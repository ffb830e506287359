/** Rooms test helpers: a Node hub with rooms open, joining over HTTP, publishing with a peer token. */
import type { JoinResponse } from '../../src/room-protocol/index.ts';
import { fixtureEnv } from '../conformance/target.ts';
import { freePort, hubEnv, startProcess } from './hub.ts';

/** Settings of the rooms tests: the conformance fixture, rooms open, short renewals where asked. */
export const roomsEnv: Record<string, string> = { ...fixtureEnv, SSEHUB_ROOMS: 'open' };

/** A hub process that can be stopped and started again on the same port. */
export interface RestartableHub {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
  /** Starts it again on the same port, with `changes` over the settings it was first started with. */
  start(changes?: Record<string, string>): Promise<void>;
  output(): string;
}

/** Starts the Node hub with the rooms settings plus `env`, on `port` (default: a free one). */
export async function startRoomsHub(
  env: Record<string, string> = {},
  port?: number,
): Promise<RestartableHub> {
  const chosen = port ?? (await freePort());
  let proc: Awaited<ReturnType<typeof startProcess>> | undefined;
  let log = '';
  const start = async (changes: Record<string, string> = {}) => {
    proc = await startProcess('node', ['--import', 'tsx', 'src/runtimes/cli.ts'], {
      env: hubEnv({ ...roomsEnv, PORT: String(chosen), HOST: '127.0.0.1', ...env, ...changes }),
      ready: /listening on/,
    });
  };
  await start();
  return {
    url: `http://127.0.0.1:${chosen}`,
    port: chosen,
    async stop() {
      log += proc?.output() ?? '';
      await proc?.stop();
      proc = undefined;
    },
    start,
    output: () => log + (proc?.output() ?? ''),
  };
}

/** `POST /rooms/{room}/join` with a JSON body; resolves with the status and the parsed answer (or text). */
export async function join(
  base: string,
  room: string,
  body: unknown = {},
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; answer: JoinResponse; text: string }> {
  const response = await fetch(`${base}/rooms/${room}/join`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let answer = undefined as unknown as JoinResponse;
  if (response.headers.get('content-type')?.startsWith('application/json')) answer = JSON.parse(text);
  return { status: response.status, headers: response.headers, answer, text };
}

/** Publishes a form to the hub with a bearer token; resolves with the status and body. */
export async function publishWith(base: string, token: string, fields: Array<[string, string]>) {
  const response = await fetch(`${base}/.well-known/mercure`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields),
  });
  return { status: response.status, text: await response.text() };
}

/** POSTs JSON to a rooms endpoint with a bearer token. */
export async function postJson(url: string, token: string | undefined, body: unknown) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, text, json: () => JSON.parse(text) };
}

/** The subscribe URL of a peer: its room, state, inbox and the room's presence. */
export function peerStreamUrl(
  base: string,
  answer: JoinResponse,
  extra: Record<string, string> = {},
): string {
  const url = new URL('/.well-known/mercure', base);
  for (const topic of [answer.topics.room, answer.topics.state, answer.topics.inbox])
    url.searchParams.append('match', topic);
  url.searchParams.append('match_urlpattern', answer.topics.presence);
  for (const [name, value] of Object.entries(extra)) url.searchParams.append(name, value);
  return url.href;
}
