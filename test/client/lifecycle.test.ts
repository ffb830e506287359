/**
 * The client's subscriber over its lifetime: a hub restart on the same port, close(), an AbortSignal,
 * and a connection that goes silent without closing.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { publish } from '../../src/client/index.ts';
import { metric } from '../conformance/client.ts';
import { fixtureEnv } from '../conformance/target.ts';
import { freePort, hubEnv, startProcess } from '../helpers/hub.ts';
import { eventually } from '../helpers/sse.ts';
import { HUB, topicOf, useClientHub } from './harness.ts';

/** fixtureEnv's SSEHUB_RETRY: a reconnect comes within this plus 25 % jitter. */
const RETRY = Number(fixtureEnv.SSEHUB_RETRY);

const t = useClientHub();
const { open, proxy } = t;
const send = (base: string, topic: string, data = 'x') =>
  publish(base + HUB, { topics: topic, data }, { token: t.pubToken });

describe('client subscribe lifecycle', () => {
  it('backs off while the hub is down, reconnects when it is back on the same port, and reports the gap', async () => {
    const port = await freePort();
    const start = () =>
      startProcess('node', ['--import', 'tsx', 'src/runtimes/cli.ts'], {
        env: hubEnv({ ...fixtureEnv, PORT: String(port), HOST: '127.0.0.1' }),
        ready: /listening on/,
      });
    const url = `http://127.0.0.1:${port}`;
    const first = await start();
    let second: Awaited<ReturnType<typeof start>> | undefined;
    try {
      const topic = topicOf('restart');
      const { rec } = open(url, { match: topic });
      await rec.until((r) => r.opens.length === 1, 'open');
      const before = await send(url, topic, 'first hub');
      await rec.until((r) => r.messages.length === 1, 'first event');

      await first.stop();
      const exitedAt = Date.now();
      // While down, every attempt is refused: the delay doubles per attempt, plus 0–25 % jitter.
      // (Attempts before the exit may still reach the dying hub over a kept-alive connection.)
      const down = () => rec.reconnects.filter((r) => r.at >= exitedAt);
      await rec.until(() => down().length >= 2, 'two attempts while the hub is down');
      for (const { attempt, delay } of down()) {
        expect(delay).toBeGreaterThanOrEqual(RETRY * 2 ** (attempt - 1));
        expect(delay).toBeLessThanOrEqual(RETRY * 2 ** (attempt - 1) * 1.25);
      }
      const attempts = down().map((r) => r.attempt);
      expect(attempts.slice(1)).toEqual(attempts.slice(0, -1).map((n) => n + 1));
      expect(attempts.at(-1)).toBeGreaterThanOrEqual(2);
      const downErrors = rec.errors.slice(-2);
      expect(downErrors.map((e) => [e.error.code, e.willRetry])).toEqual([
        ['network', true],
        ['network', true],
      ]);

      second = await start();
      await rec.until((r) => r.opens.some((o) => o.at >= exitedAt), 'reconnected to the new hub');
      // The new hub has no history: it cannot resume after `before` and says so.
      expect(rec.opens.at(-1)).toMatchObject({
        lastEventId: before,
        replayFrom: 'earliest',
        reconnected: true,
      });
      expect(rec.gaps).toEqual([{ requested: before, replayFrom: 'earliest' }]);
      const after = await send(url, topic, 'second hub');
      await rec.until((r) => r.messages.length === 2, 'event from the new hub');
      expect(rec.ids()).toEqual([before, after]);
    } finally {
      await first.stop();
      await second?.stop();
    }
  });

  it('close() ends the connection, delivers nothing more and never reconnects', async () => {
    const topic = topicOf('close');
    const p = await proxy();
    const { subscription, rec } = open(p.url, { match: topic });
    await rec.until((r) => r.opens.length === 1, 'open');
    subscription.close();
    subscription.close();
    expect(subscription.state).toBe('closed');
    expect(rec.closes).toEqual([{ reason: 'closed' }]);
    await eventually(
      async () => (await metric(t.hub.url, 'ssehub_connections')) === 0,
      'the hub to see it go',
    );
    await send(t.hub.url, topic);
    await sleep(RETRY * 2);
    expect(p.requests).toHaveLength(1);
    expect(rec.messages).toEqual([]);
    expect(rec.reconnects).toEqual([]);
    expect(rec.closes).toHaveLength(1);
  });

  it('an AbortSignal closes it, also while it waits to reconnect', async () => {
    const p = await proxy();
    const live = new AbortController();
    const a = open(p.url, { match: topicOf('abort'), signal: live.signal });
    await a.rec.until((r) => r.opens.length === 1, 'open');
    live.abort();
    expect(a.rec.closes).toEqual([{ reason: 'aborted' }]);
    await eventually(
      async () => (await metric(t.hub.url, 'ssehub_connections')) === 0,
      'the hub to see it go',
    );

    const waiting = new AbortController();
    const b = open(p.url, { match: topicOf('abort'), signal: waiting.signal });
    await b.rec.until((r) => r.opens.length === 1, 'open');
    p.refuse(true);
    p.cut();
    await b.rec.until((r) => r.reconnects.length === 1, 'waiting to reconnect');
    const arrivals = p.arrivals.length;
    waiting.abort();
    expect(b.rec.closes).toEqual([{ reason: 'aborted' }]);
    await sleep(RETRY * 2);
    expect(p.arrivals).toHaveLength(arrivals);

    const aborted = open(p.url, { match: topicOf('abort'), signal: AbortSignal.abort() });
    await aborted.rec.until((r) => r.closes.length === 1, 'closed at once');
    expect(aborted.subscription.state).toBe('closed');
    expect(aborted.rec.closes).toEqual([{ reason: 'aborted' }]);
    expect(p.arrivals).toHaveLength(arrivals);
  });

  it('reconnects when a connection goes silent (no heartbeat for idleTimeout), and resumes', async () => {
    // fixtureEnv sends a heartbeat every second: a healthy idle stream never trips a 2.5 s timeout.
    const topic = topicOf('idle');
    const p = await proxy();
    const { rec } = open(p.url, { match: topic, idleTimeout: 2500 });
    await rec.until((r) => r.opens.length === 1, 'open');
    const first = await send(t.hub.url, topic);
    await sleep(3500);
    expect(rec.errors).toEqual([]);
    expect(rec.opens).toHaveLength(1);

    p.freeze();
    const frozenAt = Date.now();
    const missed = await send(t.hub.url, topic);
    await rec.until((r) => r.opens.length === 2, 'reconnected after the timeout');
    const timeout = rec.errors[0]!;
    expect([timeout.error.code, timeout.willRetry]).toEqual(['timeout', true]);
    expect(rec.reconnects[0]!.at - frozenAt).toBeGreaterThanOrEqual(1400);
    await rec.until((r) => r.messages.length === 2, 'the missed event');
    expect(rec.ids()).toEqual([first, missed]);
  });
});
