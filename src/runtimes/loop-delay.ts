/**
 * Node's event-loop delay for `/metrics`, at a cost that follows the load. Measuring the delay means a
 * timer that wakes the process to see how late it runs. Every 10 ms, as this used to (with libuv's
 * `monitorEventLoopDelay` beside it, a second 10 ms timer), those wakeups were an idle hub's whole CPU:
 * about 1 % of a core on a small virtual machine (some 50 µs each), more than the keep-alives of
 * 20,000 idle subscribers. So one timer samples, and it slows down while the process does nothing:
 * each quiet period doubles the next, up to {@link LoopDelayOptions.maxMs}; any work (or lateness)
 * brings back the 10 ms period at the next sample.
 */
import { createHistogram } from 'node:perf_hooks';
import type { LoopDelay } from '../hub/index.ts';

export interface LoopDelayOptions {
  /** Sampling period under load, in ms. Default 10. */
  minMs?: number;
  /**
   * Longest sampling period, reached after a while without work, in ms. A stall that starts while the
   * process is quiet is seen from the sample due during it: up to this much of its start is missed,
   * and a shorter one may be missed whole (a timer that was not due could not be late). Default 100:
   * ten wakeups a second when idle, where 10 ms sampling took a hundred.
   */
  maxMs?: number;
}

/** Below this share of the period spent running (all threads), a period counts as quiet. */
const QUIET_SHARE = 0.02;
/** A sample this late (ms) means the loop was held: fast sampling again. */
const QUIET_LATENESS_MS = 1;

/**
 * The sampling period after one that lasted `elapsedMs` (its target was `periodMs`) in which the
 * process ran `ranMs` of CPU: doubled (up to `maxMs`) when it was quiet, else back to `minMs`.
 */
export function nextSamplePeriod(
  periodMs: number,
  elapsedMs: number,
  ranMs: number,
  minMs: number,
  maxMs: number,
): number {
  const quiet = elapsedMs - periodMs < QUIET_LATENESS_MS && ranMs < elapsedMs * QUIET_SHARE;
  return quiet ? Math.min(maxMs, periodMs * 2) : minMs;
}

/**
 * Starts measuring (timers unref'd: they never keep the process alive) and returns the reading
 * `/metrics` calls: how late the event loop ran the sampling timer since the previous reading (p99 and
 * longest, over the samples taken) — and how much of the longest delay the process spent running
 * (its own work: requests, fan-out, garbage collection), not waiting for a core. Each reading starts a
 * new period.
 */
export function loopDelayMonitor(options: LoopDelayOptions = {}): () => LoopDelay {
  const minMs = options.minMs ?? 10;
  const maxMs = Math.max(minMs, options.maxMs ?? 100);
  // Lateness in ns (a histogram takes integers from 1).
  const histogram = createHistogram();
  let period = minMs;
  let busy = 0;
  let lastWall = performance.now();
  let lastCpu = process.cpuUsage();
  const sample = () => {
    const wall = performance.now();
    const cpu = process.cpuUsage();
    const elapsed = wall - lastWall;
    const ran = (cpu.user - lastCpu.user + cpu.system - lastCpu.system) / 1000;
    const late = elapsed - period;
    histogram.record(Math.max(1, Math.round(late * 1e6)));
    if (late > 0) busy = Math.max(busy, Math.min(late, ran));
    period = nextSamplePeriod(period, elapsed, ran, minMs, maxMs);
    lastWall = wall;
    lastCpu = cpu;
    setTimeout(sample, period).unref();
  };
  setTimeout(sample, period).unref();
  return () => {
    const sampled = histogram.count > 0;
    const delay = {
      p99: sampled ? histogram.percentile(99) / 1e9 : 0,
      max: sampled ? histogram.max / 1e9 : 0,
      busy: busy / 1000,
    };
    histogram.reset();
    busy = 0;
    return delay;
  };
}
