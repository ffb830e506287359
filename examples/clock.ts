// The SSE engine on its own, in a plain Hono app: a clock that ticks every second.
import { Hono } from 'hono';
import { EventStream, Heartbeat } from '../src/sse/index.ts';

const heartbeat = new Heartbeat(15_000); // one timer keeps every idle stream alive
const app = new Hono();

app.get('/clock', (c) => {
  let timer: ReturnType<typeof setInterval> | undefined;
  const stream = new EventStream({
    signal: c.req.raw.signal,
    heartbeat,
    onClose: () => clearInterval(timer),
  });
  timer = setInterval(() => stream.send({ event: 'tick', data: new Date().toISOString() }), 1000);
  return stream.response();
});

export default app;
