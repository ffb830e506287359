/**
 * Node's event-loop delay monitor (`/metrics`): it samples every 10 ms under load and slows down while
 * the process is quiet, so an idle hub is not woken a hundred times a second, and it still sees a stall.
 * Here with the black-box tests, one file at a time: its figures are timings.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loopDelayMonitor, nextSamplePeriod } from '../../src/runtimes/loop-delay.ts';

/** Holds the event loop for `ms`, as a long synchronous task would. */
function hold(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // spin
  }
}

describe('nextSamplePeriod', () => {
  it('doubles the period after a quiet one, up to the longest', () => {
    expect(nextSamplePeriod(10, 10.2, 0.05, 10, 250)).toBe(20);
    expect(nextSamplePeriod(160, 160.5, 1, 10, 250)).toBe(250);
    expect(nextSamplePeriod(250, 250.3, 2, 10, 250)).toBe(250);
  });

  it('goes back to the shortest after a period with work or lateness', () => {
    // 2 % of the period or more spent running
    expect(nextSamplePeriod(250, 250.3, 6, 10, 250)).toBe(10);
    expect(nextSamplePeriod(10, 10.1, 0.3, 10, 250)).toBe(10);
    // late by a millisecond or more, whatever the CPU says (a process kept off its core)
    expect(nextSamplePeriod(80, 81.5, 0, 10, 250)).toBe(10);
  });
});

describe('loopDelayMonitor', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('samples less and less often while the process is quiet', async () => {
    const timeout = vi.spyOn(globalThis, 'setTimeout');
    // Periods no one else here uses, so that the monitor's timers can be told apart.
    loopDelayMonitor({ minMs: 7, maxMs: 56 });
    await sleep(1500);
    const periods = timeout.mock.calls
      .map((call) => call[1] ?? 0)
      .filter((ms) => ms === 7 || ms === 14 || ms === 28 || ms === 56);
    // Each period either doubles the one before (up to 56 ms) or, after work or a late wake-up (the
    // machine may be busy with other tests), starts again from 7 ms.
    for (let i = 1; i < periods.length; i++) {
      expect([7, Math.min(periods[i - 1]! * 2, 56)]).toContain(periods[i]);
    }
    // And in a quiet stretch it does slow down, and stays slow: 7, 14, 28, then 56 ms and 56 again.
    expect(`,${periods.join(',')},`).toContain(',7,14,28,56,56,56,');
  });

  it('sees a stall that starts while the process is quiet, and counts it as its own work', async () => {
    const read = loopDelayMonitor({ minMs: 10, maxMs: 100 });
    await sleep(500);
    read();
    hold(300);
    // The sample due during the stall runs after it; the next one is 10 ms later.
    await sleep(50);
    const delay = read();
    expect(delay.max).toBeGreaterThanOrEqual(0.19);
    expect(delay.max).toBeLessThan(0.4);
    expect(delay.busy).toBeGreaterThanOrEqual(0.19);
    // A new period starts with each reading.
    await sleep(30);
    expect(read().max).toBeLessThan(0.1);
  });

  it('samples every period again under load, so short holds show in the p99', async () => {
    const read = loopDelayMonitor({ minMs: 10, maxMs: 250 });
    await sleep(600);
    read();
    for (let i = 0; i < 30; i++) {
      hold(25);
      await sleep(1);
    }
    const delay = read();
    // ~30 samples, nearly each one waiting out part of a 25 ms hold.
    expect(delay.p99).toBeGreaterThanOrEqual(0.01);
    expect(delay.max).toBeLessThan(0.2);
  });
});
