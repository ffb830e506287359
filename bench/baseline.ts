/**
 * The reference point for the benchmark: an in-memory broadcast hub written the way a typical Hono
 * user would write one (`streamSSE` + `@hono/node-server`), with the same HTTP API as ssehub:
 *
 * - `GET /.well-known/mercure?match=<topic>` (repeatable) streams `text/event-stream`;
 * - `POST /.well-known/mercure` with form fields `topic` (repeatable) and `data` broadcasts the
 *   update and answers 200 with its generated id.
 *
 * It is meant to be honest and idiomatic: not deliberately slow, not hand-tuned.
 *
 * @example
 * PORT=3000 node --import tsx bench/baseline.ts
 */
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';

type Listener = (id: string, data: string) => void;

const listenersByTopic = new Map<string, Set<Listener>>();

function addListener(topic: string, listener: Listener): void {
  let listeners = listenersByTopic.get(topic);
  if (!listeners) {
    listeners = new Set();
    listenersByTopic.set(topic, listeners);
  }
  listeners.add(listener);
}

function removeListener(topic: string, listener: Listener): void {
  const listeners = listenersByTopic.get(topic);
  if (!listeners) return;
  listeners.delete(listener);
  if (listeners.size === 0) listenersByTopic.delete(topic);
}

const app = new Hono();

app.get('/.well-known/mercure', (c) => {
  const topics = c.req.queries('match') ?? [];
  if (topics.length === 0) return c.text('missing "match" query parameter', 400);

  return streamSSE(c, async (stream) => {
    const listener: Listener = (id, data) => {
      void stream.writeSSE({ id, data });
    };
    for (const topic of topics) addListener(topic, listener);

    // Keep the stream open until the client goes away.
    await new Promise<void>((resolve) => {
      stream.onAbort(() => {
        for (const topic of topics) removeListener(topic, listener);
        resolve();
      });
    });
  });
});

app.post('/.well-known/mercure', async (c) => {
  const body = await c.req.parseBody({ all: true });
  const topics = [body.topic].flat().filter((t): t is string => typeof t === 'string');
  const data = body.data;
  if (topics.length === 0 || typeof data !== 'string') return c.text('missing "topic" or "data"', 400);

  const id = crypto.randomUUID();
  // A subscriber matching several of the update's topics gets it once.
  const recipients = new Set<Listener>();
  for (const topic of topics) {
    for (const listener of listenersByTopic.get(topic) ?? []) recipients.add(listener);
  }
  for (const listener of recipients) listener(id, data);
  return c.text(id);
});

const port = Number(process.env.PORT ?? 3000);
serve({ fetch: app.fetch, port }, (info) => {
  console.log(`baseline listening on http://localhost:${info.port}`);
});
