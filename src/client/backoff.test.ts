/** Reconnection delays: the server's retry is the floor, growth per failure, the cap, Retry-After. */
import { describe, expect, it } from 'vitest';
import { backoffDelay, reconnectDefaults, retryAfter } from './backoff.ts';

const lowest = () => 0;
const highest = () => 0.999_999;

describe('backoff', () => {
  it('starts at the retry delay and doubles per failed attempt, up to the cap', () => {
    expect([0, 1, 2, 3, 4, 5, 6].map((n) => backoffDelay(1000, n, reconnectDefaults, lowest))).toEqual([
      1000, 2000, 4000, 8000, 16_000, 30_000, 30_000,
    ]);
  });

  it('adds up to 25 % jitter, never less than the retry delay', () => {
    expect(backoffDelay(1000, 0, reconnectDefaults, highest)).toBe(1250);
    expect(backoffDelay(1000, 9, reconnectDefaults, highest)).toBe(37_500);
  });

  it('lets a server retry above the cap win, and never hammers after retry: 0', () => {
    expect(backoffDelay(60_000, 3, reconnectDefaults, lowest)).toBe(60_000);
    expect(backoffDelay(0, 0, reconnectDefaults, lowest)).toBe(0);
    expect(backoffDelay(0, 1, reconnectDefaults, lowest)).toBe(200);
  });

  it('reads Retry-After as seconds or an HTTP date, bounded', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfter('3', now)).toBe(3000);
    expect(retryAfter('Thu, 01 Jan 2026 00:00:10 GMT', now)).toBe(10_000);
    expect(retryAfter('999999', now)).toBe(3_600_000);
    for (const junk of [null, '', 'soon', '-5', 'Wed, 31 Dec 2025 23:00:00 GMT'])
      expect(retryAfter(junk, now)).toBe(0);
  });
});
