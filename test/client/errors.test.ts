/**
 * How the subscriber treats what is not a healthy event stream: hub refusals (real hub), and every
 * other status or content type (a scripted HTTP server): retry or stop, and what it reports.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type SubscribeOptions, type Subscription, subscribe } from '../../src/client/index.ts';
import { fixtureEnv } from '../conformance/target.ts';
import { startNodeHub } from '../helpers/hub.ts';
import { record } from '../helpers/recorder.ts';

const HUB = '/.well-known/mercure';
/** Short backoff: a wrong retry would show up well within the waits below. */
const FAST = { delay: 50 };

let hub: Awaited<ReturnType<typeof startNodeHub>>;
const subscriptions: Subscription[] = [];
const servers: Array<ReturnType<typeof createServer>> = [];

beforeAll(async () => {
  hub = await startNodeHub({ ...fixtureEnv, SSEHUB_ALLOW_ANONYMOUS_SUBSCRIBE: 'false' });
});
afterEach(async () => {
  for (const s of subscriptions.splice(0)) s.close();
  for (const server of servers.splice(0)) server.closeAllConnections();
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
});
afterAll(async () => {
  await hub?.stop();
});

function open(url: string, options: SubscribeOptions) {
  const subscription = subscribe(url, { reconnect: FAST, ...options });
  subscriptions.push(subscription);
  return { subscription, rec: record(subscription) };
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** An HTTP server answering its n-th request with `script[n]` (the last one repeats). */
async function scripted(script: Handler[]) {
  const requests: Array<{ at: number; headers: IncomingMessage['headers'] }> = [];
  const server = createServer((req, res) => {
    requests.push({ at: Date.now(), headers: req.headers });
    script[Math.min(requests.length, script.length) - 1]!(req, res);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${HUB}?match=x`,
    requests,
    server,
  };
}

const refuse =
  (status: number, headers: Record<string, string> = {}): Handler =>
  (_req, res) => {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
    res.end(`refused with ${status}\n`);
  };
const stream =
  (...chunks: string[]): Handler =>
  (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
    // One write per timer tick, so that the chunks reach the client as separate reads.
    chunks.forEach((chunk, i) => {
      setTimeout(() => res.write(chunk), 20 * i);
    });
  };

describe('client subscribe errors', () => {
  it('stops on the hub’s 401 and 400 and reports its message', async () => {
    const cases: Array<[SubscribeOptions, number, RegExp]> = [
      [{ match: '/a' }, 401, /a token is required/],
      [{ match: '/a', token: 'not-a-jwt' }, 401, /invalid token/],
      [{ matchUrlPattern: '/a/(' }, 400, /./],
    ];
    for (const [options, status, message] of cases) {
      const { subscription, rec } = open(hub.url + HUB, options);
      await rec.until((r) => r.closes.length === 1, `close after ${status}`);
      expect(rec.errors).toHaveLength(1);
      const { error, willRetry } = rec.errors[0]!;
      expect([error.code, error.status, willRetry]).toEqual(['http', status, false]);
      expect(error.message).toMatch(message);
      expect(rec.closes[0]).toEqual({ reason: 'error', error });
      expect(subscription.state).toBe('closed');
      expect(rec.opens).toEqual([]);
    }
  });

  it('never retries 400, 401, 403 or 404', async () => {
    for (const status of [400, 401, 403, 404]) {
      const server = await scripted([refuse(status)]);
      const { rec } = open(server.url, {});
      await rec.until((r) => r.closes.length === 1, `close after ${status}`);
      expect(rec.errors[0]!.error.message).toContain(`refused with ${status}`);
      expect(rec.errors[0]!.willRetry).toBe(false);
      await sleep(300);
      expect(server.requests).toHaveLength(1);
    }
  });

  it('retries 408, 429 and 5xx, waiting for Retry-After when given', async () => {
    for (const [status, headers] of [
      [408, {}],
      [429, { 'retry-after': '1' }],
      [500, {}],
      [503, { 'retry-after': '1' }],
    ] as const) {
      const server = await scripted([refuse(status, headers), stream('id: 1\ndata: back\n\n')]);
      const { rec } = open(server.url, {});
      await rec.until((r) => r.messages.length === 1, `the stream after ${status}`);
      expect(rec.errors.map((e) => [e.error.status, e.willRetry])).toEqual([[status, true]]);
      const waited = server.requests[1]!.at - server.requests[0]!.at;
      expect(waited).toBeGreaterThanOrEqual('retry-after' in headers ? 1000 : 50);
      expect(rec.messages[0]).toEqual({ type: 'message', data: 'back', lastEventId: '1' });
    }
  });

  it('stops quietly on 204 and refuses a response that is not an event stream', async () => {
    const noContent = await scripted([
      (_req, res) => {
        res.writeHead(204);
        res.end();
      },
    ]);
    const done = open(noContent.url, {});
    await done.rec.until((r) => r.closes.length === 1, 'close after 204');
    expect(done.rec.closes).toEqual([{ reason: 'done' }]);
    expect(done.rec.errors).toEqual([]);

    const html = await scripted([
      (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<p>login</p>');
      },
    ]);
    const wrong = open(html.url, {});
    await wrong.rec.until((r) => r.closes.length === 1, 'close after text/html');
    expect(wrong.rec.errors.map((e) => [e.error.code, e.willRetry])).toEqual([['protocol', false]]);
    await sleep(300);
    expect(noContent.requests).toHaveLength(1);
    expect(html.requests).toHaveLength(1);
  });

  it('reads a BOM, CRLF and CR line ends, comments and split chunks; resumes from the last id', async () => {
    const server = await scripted([
      stream(
        '\uFEFFretry: 60\r\n: hello\r\nid: a\r',
        '\ndata: one\r\ndata: two\r\n\r\nid: b\rdata',
        ': three\r\r',
      ),
      stream('data: four\n\n'),
    ]);
    const { rec } = open(server.url, { reconnect: { delay: 5000 } });
    await rec.until((r) => r.messages.length === 2, 'two events');
    expect(rec.messages).toEqual([
      { type: 'message', data: 'one\ntwo', lastEventId: 'a' },
      { type: 'message', data: 'three', lastEventId: 'b' },
    ]);
    // The scripted server ends the stream: `retry: 60` (not the 5 s default) brings the client back.
    server.server.closeAllConnections();
    await rec.until((r) => r.messages.length === 3, 'the event after reconnecting');
    expect(rec.reconnects[0]!.delay).toBeLessThanOrEqual(75);
    expect(server.requests[1]!.headers['last-event-id']).toBe('b');
    // An event without `id:` keeps the last id (as EventSource reports it).
    expect(rec.messages[2]).toEqual({ type: 'message', data: 'four', lastEventId: 'b' });
  });

  it('reports a token that cannot be a bearer token instead of sending it', async () => {
    const server = await scripted([stream('data: never\n\n')]);
    const fixed = open(server.url, { token: 'two words' });
    await fixed.rec.until((r) => r.closes.length === 1, 'close');
    expect(fixed.rec.errors.map((e) => [e.error.code, e.willRetry])).toEqual([['token', false]]);

    let calls = 0;
    const provided = open(server.url, { token: () => (calls++ === 0 ? 'line\nbreak' : 'fine.token') });
    await provided.rec.until((r) => r.messages.length === 1, 'the stream with the next token');
    expect(provided.rec.errors.map((e) => [e.error.code, e.willRetry])).toEqual([['token', true]]);
    expect(server.requests.map((r) => r.headers.authorization)).toEqual(['Bearer fine.token']);
  });

  it('with reconnect: false, ends when the stream ends', async () => {
    const server = await scripted([
      (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end('data: only\n\n');
      },
    ]);
    const { rec } = open(server.url, { reconnect: false });
    await rec.until((r) => r.closes.length === 1, 'close');
    expect(rec.messages.map((m) => m.data)).toEqual(['only']);
    expect(rec.closes).toEqual([{ reason: 'done' }]);
    expect(server.requests).toHaveLength(1);
  });
});
