import { afterEach, describe, expect, it, vi } from 'vitest';
import { Expiries, type Expiring } from './expiries.ts';

describe('Expiries', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  const subject = (expiresAt: number | undefined, log: string[], name: string): Expiring => ({
    expiresAt,
    expire: () => log.push(name),
  });

  it('expires each subject once, at its time (within 100 ms), with one timer', () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const log: string[] = [];
    const expiries = new Expiries();
    expiries.add(subject(1_000_550, log, 'b'));
    expiries.add(subject(1_000_250, log, 'a'));
    expiries.add(subject(1_002_000, log, 'c'));
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(240);
    expect(log).toEqual([]);
    vi.advanceTimersByTime(60);
    expect(log).toEqual(['a']);
    vi.advanceTimersByTime(400);
    expect(log).toEqual(['a', 'b']);
    vi.advanceTimersByTime(2000);
    expect(log).toEqual(['a', 'b', 'c']);
    expect(vi.getTimerCount()).toBe(0);
    expect(expiries.size).toBe(0);
  });

  it('forgets a subject whose stream ended otherwise, and stops when none is left', () => {
    vi.useFakeTimers({ now: 0 });
    const log: string[] = [];
    const expiries = new Expiries();
    const gone = subject(500, log, 'gone');
    expiries.add(gone);
    expiries.add(subject(undefined, log, 'no token'));
    expiries.delete(gone);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(1000);
    expect(log).toEqual([]);
  });

  it('expires at once what is already past, and waits out expiries beyond the timer range', () => {
    vi.useFakeTimers({ now: 10_000 });
    const log: string[] = [];
    const expiries = new Expiries();
    expiries.add(subject(9_000, log, 'past'));
    expect(log).toEqual(['past']);
    const far = 10_000 + 30 * 24 * 3600 * 1000;
    expiries.add(subject(far, log, 'far'));
    vi.advanceTimersByTime(25 * 24 * 3600 * 1000);
    expect(log).toEqual(['past']);
    vi.advanceTimersByTime(6 * 24 * 3600 * 1000);
    expect(log).toEqual(['past', 'far']);
  });
});
