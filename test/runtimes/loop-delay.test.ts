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
    // In this order: the spy on the fake setTimeout would otherwise put the fake back.
    vi.restoreAllMocks();
    vi.useRealTimers();
  });

  it('samples less and less often while the process is quiet, and every period again after work', () => {
    // The clock and the process's CPU time are the test's: a busy machine cannot make a quiet
    // stretch look busy (a CI run saw only late wake-ups for 1.5 s of real time).
    vi.useFakeTimers({ toFake: ['setTimeout', 'performance'] });
    let cpuMicros = 0;
    vi.spyOn(process, 'cpuUsage').mockImplementation(() => ({ user: cpuMicros, system: 0 }));
    const timeout = vi.spyOn(globalThis, 'setTimeout');
    const periods = () => timeout.mock.calls.map((call) => call[1]);
    loopDelayMonitor({ minMs: 7, maxMs: 56 });
    expect(periods()).toEqual([7]);
    // Quiet: 7, then 14, 28, and 56 ms from then on.
    vi.advanceTimersByTime(7 + 14 + 28 + 56 + 56);
    expect(periods()).toEqual([7, 14, 28, 56, 56, 56]);
    // A period in which the process ran 2 % of the time or more brings back 7 ms at the next sample…
    cpuMicros += 1200;
    vi.advanceTimersByTime(56);
    expect(periods().slice(6)).toEqual([7]);
    // …and a little CPU (under 2 %) does not.
    cpuMicros += 100;
    vi.advanceTimersByTime(7);
    expect(periods().slice(6)).toEqual([7, 14]);
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
