/**
 * Keeps the harness honest: the subscriber's HTTP/SSE parsing and its loss / duplicate / ordering
 * accounting against a hand-written byte stream cut at random places, then a short real run
 * against the baseline.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ledger } from './ledger.ts';
import { runLoad } from './loadgen.ts';
import { makePayload } from './payload.ts';
import { SERVERS, startServer } from './servers.ts';
import { openSubscribers } from './subscriber.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SIZE = 64;

/** A fake hub that answers one GET with `body` (already chunk-encoded), cut into random slices. */
async function fakeHub(body: string, seed: number): Promise<{ server: Server; port: number }> {
  let state = seed;
  const random = () => {
    // xorshift32: deterministic cuts, so a failure reproduces.
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  const server = createServer((socket: Socket) => {
    let request = '';
    socket.on('data', async (d) => {
      request += d.toString('latin1');
      if (!request.includes('\r\n\r\n')) return;
      socket.setNoDelay(true);
      const head = 'HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n';
      const bytes = Buffer.from(`${head}${body}`, 'latin1');
      for (let i = 0; i < bytes.length; ) {
        const n = 1 + Math.floor(random() * 40);
        socket.write(bytes.subarray(i, i + n));
        i += n;
        await new Promise((r) => setTimeout(r, 1));
      }
      socket.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  return { server, port: typeof addr === 'object' && addr ? addr.port : 0 };
}

/** Chunk-encodes `text` into chunks of random-ish sizes. */
function chunked(text: string, sizes: number[]): string {
  let out = '';
  let i = 0;
  for (let k = 0; i < text.length; k++) {
    const piece = text.slice(i, i + sizes[k % sizes.length]!);
    out += `${piece.length.toString(16)}\r\n${piece}\r\n`;
    i += piece.length;
  }
  return `${out}0\r\n\r\n`;
}

describe('subscriber accounting', () => {
  const p = (seq: number) => makePayload(seq, 1_000_000 + seq, SIZE);
  const stream = [
    `: hello\n\n`,
    `id: a\ndata: ${p(0)}\n\n`,
    `data: ${p(1)}\nid: b\n\n`,
    `event: update\nretry: 1000\nid: c\ndata: ${p(2)}\n\n`,
    `data: ${p(2)}\n\n`, // duplicate
    `retry: 5000\n\n`, // no data
    `data: ${p(5)}\n\n`, // 3 and 4 not yet
    `data:${p(3)}\n\n`, // late, and no space after the colon
    `data: hello\n\n`, // not ours
    `data: ${p(6)}\n\n`,
    `data: ${p(7)}\n\n`,
  ].join('');

  for (const seed of [1, 2, 3]) {
    it(`parses a chunked SSE stream cut at random places (seed ${seed})`, async () => {
      const { server, port } = await fakeHub(chunked(stream, [7, 100, 3, 333, 64]), seed * 7919);
      try {
        const ledger = new Ledger(SIZE);
        ledger.windowFrom = 0;
        ledger.windowTo = 8;
        // seq 3 was answered before seq 5 was sent: receiving 3 after 5 is a real violation.
        const sent = new Float64Array(8);
        const answered = new Float64Array(8);
        answered[3] = 10;
        sent[5] = 20;
        ledger.publishTimes = { sentMicros: sent, answeredMicros: answered };
        const [sub] = await openSubscribers(ledger, { host: '127.0.0.1', port }, '/x', 1);
        await new Promise((r) => setTimeout(r, 50));
        for (let i = 0; i < 200 && ledger.serverClosed === 0; i++)
          await new Promise((r) => setTimeout(r, 10));

        expect(ledger.errors).toEqual([]);
        expect(ledger.delivered).toBe(9);
        expect(ledger.duplicates).toBe(1);
        expect(ledger.outOfOrder).toBe(1);
        expect(ledger.reordered).toBe(0);
        expect(ledger.malformed).toBe(1);
        expect(ledger.serverClosed).toBe(1);
        expect(ledger.uniqueInWindow).toBe(7);
        expect(sub!.windowReceived).toBe(7);
        expect(ledger.latencyMs.count).toBe(7);
        expect(sub!.missing(new Uint8Array(8).fill(1), 0, 8)).toBe(1); // seq 4
      } finally {
        server.close();
      }
    });
  }
});

describe('against the baseline', () => {
  let server: Awaited<ReturnType<typeof startServer>>;
  beforeAll(async () => {
    const spec = SERVERS.find((s) => s.name === 'baseline')!;
    server = await startServer(spec, {
      root: ROOT,
      logFile: join(ROOT, 'bench', 'logs', 'test-baseline.log'),
    });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('delivers every event to every subscriber and accounts for all of them', async () => {
    const r = await runLoad({
      target: { host: '127.0.0.1', port: server.port },
      topic: 'test',
      subscribers: 5,
      rate: 50,
      payloadBytes: 512,
      warmupMs: 200,
      durationMs: 1000,
      probe: server.probe,
    });
    expect(r.errors).toEqual([]);
    expect(r.subscribers).toBe(5);
    // Rates depend on how busy the machine is; the accounting must be exact regardless.
    expect(r.published).toBeGreaterThanOrEqual(10);
    expect(r.publishFailed).toBe(0);
    expect(r.lost).toBe(0);
    expect(r.duplicates + r.outOfOrder + r.malformed + r.serverClosed).toBe(0);
    // One latency sample per (subscriber, window event): nothing missing, nothing counted twice.
    expect(r.latencyMs.samples).toBe(r.published * 5);
    expect(r.deliveredPerSecond).toBeGreaterThan(0);
    expect(r.deliveredPerSecond).toBeLessThanOrEqual((r.published + 2 * 50) * 5);
    expect(r.serverCpuSeconds).toBeGreaterThanOrEqual(0);
    expect(r.latencyMs.p50).toBeGreaterThan(0);
  });

  it('counts connections the server closes', async () => {
    const ledger = new Ledger(512);
    await openSubscribers(
      ledger,
      { host: '127.0.0.1', port: server.port },
      '/.well-known/mercure?match=t',
      3,
    );
    await server.stop();
    for (let i = 0; i < 100 && ledger.serverClosed < 3; i++) await new Promise((r) => setTimeout(r, 10));
    expect(ledger.serverClosed).toBe(3);
  });
});
