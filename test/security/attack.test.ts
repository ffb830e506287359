/**
 * The worst a stranger can make the hub do, with the bounds at their defaults, while a health check
 * watches: the hub must keep answering `/healthz` within 50 ms. The attack, all at once for several
 * seconds:
 * - anonymous subscribers fill the hub's distinct URL patterns (SSEHUB_MAX_PATTERNS) with patterns
 *   that never stop early on the topics published, then keep asking for more (refused, 429, after
 *   their compile budget is spent);
 * - anonymous subscribers connect and disconnect with the most matchers allowed (a subscription
 *   event each, on opening and on closing);
 * - a publisher sends updates on the longest topic allowed, which every one of those patterns reads
 *   to the end.
 * The probe is a separate process, so what it measures is the hub, not this test's event loop. The
 * machine's two cores are shared by the hub, the attack and the probe: the probe's latency includes
 * waiting for a core, so it is held to its 99th percentile. On Node the hub also reports how long its
 * event loop was held by its own work (`ssehub_event_loop_busy_seconds`: the delay it spent running,
 * not waiting for a core), which is the bound itself, held to its maximum.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publish, q, subscribe } from '../conformance/client.ts';
import { fixtureEnv } from '../conformance/target.ts';
import { type RuntimeHub, runtimes } from '../helpers/runtimes.ts';
import type { SseStream } from '../helpers/sse.ts';

/** The defaults an operator gets (the fixture tightens some of them for the other tests). */
const DEFAULT_BOUNDS = {
  SSEHUB_MAX_MATCHERS: '64',
  SSEHUB_MAX_MATCHER_LENGTH: '1024',
  SSEHUB_MAX_TOPIC_LENGTH: '2048',
  SSEHUB_MAX_PATTERNS: '1000',
};

/** Polls `url` every `everyMs` in a child process for `seconds`; resolves with the latencies in ms. */
function probe(url: string, seconds: number, everyMs: number): Promise<number[]> {
  const script = `
    const until = Date.now() + ${seconds * 1000};
    const latencies = [];
    (async () => {
      while (Date.now() < until) {
        const started = performance.now();
        const res = await fetch(${JSON.stringify(url)});
        await res.text();
        if (res.status !== 200) throw new Error('healthz ' + res.status);
        latencies.push(performance.now() - started);
        await new Promise((r) => setTimeout(r, ${everyMs}));
      }
      process.stdout.write(JSON.stringify(latencies));
    })();`;
  return new Promise((resolve, reject) => {
    const child = spawn('node', ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out) as number[]) : reject(new Error(`probe ${code}`)),
    );
  });
}

for (const runtime of ['node', 'bun', 'deno'] as const) {
  describe(`an attack at the bounds: ${runtime}`, () => {
    let hub: RuntimeHub;
    beforeAll(async () => {
      hub = await runtimes[runtime]!({ ...fixtureEnv, ...DEFAULT_BOUNDS });
    });
    afterAll(() => hub?.stop());

    it('keeps answering /healthz within 50 ms', async () => {
      const topic = `/${'a'.repeat(2047)}`;
      // A scrape starts a new measuring period of the event-loop delay.
      const loopDelay = async () => {
        const text = await (await fetch(`${hub.url}/metrics`)).text();
        const max = /^ssehub_event_loop_busy_seconds (\S+)$/m.exec(text)?.[1];
        return max === undefined ? undefined : Number(max) * 1000;
      };
      await loopDelay();
      let stop = false;
      let n = 0;
      const held: SseStream[] = [];
      // Patterns that read any all-`a` topic to its end: a wildcard, then a suffix never found.
      const never = () =>
        Array.from({ length: 64 }, () => `match_urlpattern=${q(`/*${(n++).toString(36)}z`)}`).join('&');
      const counts = { held: 0, refused: 0, churned: 0, published: 0 };

      const fill = (async () => {
        while (!stop) {
          const sub = await subscribe(hub.url, never());
          if (sub.status === 200) {
            held.push(sub);
            counts.held++;
          } else {
            expect(sub.status).toBe(429);
            counts.refused++;
            sub.close();
          }
        }
      })();
      const churn = (async () => {
        const matchers = Array.from({ length: 64 }, (_, i) => `match=${q(`/churn/${'c'.repeat(900)}/${i}`)}`);
        while (!stop) {
          const sub = await subscribe(hub.url, matchers.join('&'));
          expect(sub.status).toBe(200);
          sub.close();
          counts.churned++;
        }
      })();
      const publisher = (async () => {
        while (!stop) {
          const result = await publish(hub.url, { topic, data: 'x' });
          expect(result.status).toBe(200);
          counts.published++;
          await new Promise((r) => setTimeout(r, 20));
        }
      })();

      const latencies = await probe(`${hub.url}/healthz`, 8, 20);
      const loopMax = await loopDelay();
      stop = true;
      await Promise.all([fill, churn, publisher]);
      for (const sub of held) sub.close();
      latencies.sort((a, b) => a - b);
      const max = latencies.at(-1)!;
      const p99 = latencies[Math.floor(latencies.length * 0.99)]!;
      console.log(
        `${runtime}: healthz max ${max.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms over ${latencies.length} probes;`,
        `event loop held at most ${loopMax?.toFixed(1) ?? 'not measured'} ms;`,
        counts,
      );
      // The attack did reach the bounds: patterns held up to the cap, further ones refused.
      expect(counts.held).toBeGreaterThanOrEqual(15);
      expect(counts.refused).toBeGreaterThan(0);
      expect(counts.published).toBeGreaterThan(50);
      expect(p99).toBeLessThan(50);
      if (runtime === 'node') expect(loopMax).toBeLessThan(50);
    });
  });
}
