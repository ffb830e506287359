/**
 * Calibration target, not a contender: the least work a Node broadcast hub can do — bare
 * `node:http`, the SSE frame encoded once per publish and `res.write` to each subscriber. Running
 * the scenarios against it (`--servers=null`) shows how much the load generator can absorb on its
 * core, i.e. the ceiling of every other measurement.
 *
 * With `NULL_HUB_BATCH=1` the publishes that arrive within one event-loop turn go out as one write
 * per subscriber (`--servers=null-batched`): fewer syscalls on both sides, so it shows the
 * generator's ceiling when a server coalesces.
 *
 * @example
 * PORT=3000 node --import tsx bench/null-hub.ts
 */
import { randomUUID } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';

const subscribers = new Map<string, Set<ServerResponse>>();
const batch = process.env.NULL_HUB_BATCH === '1';
/** Frames published during this event-loop turn, by topic (batch mode only). */
const pending = new Map<string, string>();

function send(topics: string[], frame: string): void {
  if (batch) {
    if (pending.size === 0) setImmediate(flush);
    for (const topic of topics) pending.set(topic, (pending.get(topic) ?? '') + frame);
    return;
  }
  const recipients = new Set<ServerResponse>();
  for (const topic of topics) for (const r of subscribers.get(topic) ?? []) recipients.add(r);
  for (const r of recipients) r.write(frame);
}

function flush(): void {
  // A subscriber of several topics would get their frames in topic order; the benchmark uses one.
  for (const [topic, frames] of pending) for (const r of subscribers.get(topic) ?? []) r.write(frames);
  pending.clear();
}

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname !== '/.well-known/mercure') {
    res.writeHead(404).end();
    return;
  }
  if (req.method === 'GET') {
    const topics = url.searchParams.getAll('match');
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.flushHeaders();
    for (const topic of topics) {
      let set = subscribers.get(topic);
      if (!set) {
        set = new Set();
        subscribers.set(topic, set);
      }
      set.add(res);
    }
    res.on('close', () => {
      for (const topic of topics) subscribers.get(topic)?.delete(res);
    });
    return;
  }
  if (req.method === 'POST') {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      const id = randomUUID();
      const data = (form.get('data') ?? '').split(/\r\n|\r|\n/);
      const frame = `id: ${id}\n${data.map((line) => `data: ${line}\n`).join('')}\n`;
      send(form.getAll('topic'), frame);
      res.writeHead(200, { 'content-type': 'text/plain' }).end(id);
    });
    return;
  }
  res.writeHead(405).end();
});

server.listen(Number(process.env.PORT ?? 3000));
