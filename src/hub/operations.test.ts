import { afterEach, describe, expect, it, vi } from 'vitest';
import { createMemoryRateLimits } from '../brokers/index.ts';
import { ConfigError } from '../config/index.ts';
import { EventStream } from '../sse/index.ts';
import { adminActions } from './admin-grants.ts';
import { drainStreams } from './drain.ts';
import { Expiries, type Expiring } from './expiries.ts';
import { Histogram } from './metrics.ts';
import { addressKey, parseRate } from './rate-limit.ts';
import { checkRevocation, Denylist } from './revocations.ts';

afterEach(() => {
  vi.useRealTimers();
});

describe('parseRate', () => {
  it.each([
    ['20/10s', { capacity: 20, periodMs: 10_000 }],
    ['5/s', { capacity: 5, periodMs: 1000 }],
    [' 100 / 1m ', { capacity: 100, periodMs: 60_000 }],
    ['1/250ms', { capacity: 1, periodMs: 250 }],
    ['3/2h', { capacity: 3, periodMs: 7_200_000 }],
  ])('reads %j', (text, rate) => {
    expect(parseRate(text, 'X')).toEqual(rate);
  });

  it.each(['', '10', '0/s', '10/0s', '10/5', '10/5d', '-1/s', 'ten/s'])('refuses %j', (text) => {
    expect(() => parseRate(text, 'SSEHUB_X')).toThrow(ConfigError);
  });
});

describe('addressKey', () => {
  it('keys IPv4 by address, IPv6 by /64, IPv4-mapped as IPv4', () => {
    expect(addressKey('203.0.113.7')).toBe('a:203.0.113.7');
    expect(addressKey('::ffff:203.0.113.7')).toBe('a:203.0.113.7');
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe(addressKey('2001:0db8:0001:0002:ffff:1:2:3'));
    expect(addressKey('2001:db8:1:2::1')).not.toBe(addressKey('2001:db8:1:3::1'));
    expect(addressKey('2001:db8::1')).toBe(addressKey('2001:db8:0:0:1::'));
    expect(addressKey('fe80::1%eth0')).toBe(addressKey('fe80::2'));
    expect(addressKey(undefined)).toBe('a:unknown');
  });
});

describe('memory rate limits', () => {
  it('takes tokens, says how long until the next, and refills', () => {
    let now = 0;
    const store = createMemoryRateLimits({ now: () => now });
    const rate = { capacity: 2, periodMs: 1000 };
    expect([store.take('k', rate), store.take('k', rate), store.take('k', rate)]).toEqual([0, 0, 500]);
    now = 499;
    expect(store.take('k', rate)).toBeGreaterThan(0);
    expect(store.take('k', rate)).toBeLessThanOrEqual(2);
    now = 500;
    expect(store.take('k', rate)).toBe(0);
    expect(store.take('other', rate)).toBe(0);
  });

  it('when full, evicts a refilled bucket, and puts newcomers in one shared bucket otherwise', () => {
    let now = 0;
    const store = createMemoryRateLimits({ maxKeys: 2, now: () => now });
    const rate = { capacity: 1, periodMs: 1000 };
    expect(store.take('a', rate)).toBe(0);
    expect(store.take('b', rate)).toBe(0);
    // Neither bucket has refilled: new keys share the overflow bucket, and the limited ones stay limited.
    expect(store.take('c', rate)).toBe(0);
    expect(store.take('d', rate)).toBeGreaterThan(0);
    expect(store.take('a', rate)).toBeGreaterThan(0);
    // Once `a` has refilled, forgetting it loses nothing: a newcomer takes its place.
    now = 1000;
    expect(store.take('e', rate)).toBe(0);
    expect(store.take('e', rate)).toBeGreaterThan(0);
  });

  it('stores long keys as hashes', () => {
    const store = createMemoryRateLimits();
    const rate = { capacity: 1, periodMs: 1000 };
    expect(store.take('x'.repeat(10_000), rate)).toBe(0);
    expect(store.take('x'.repeat(10_000), rate)).toBeGreaterThan(0);
    expect(store.take(`${'x'.repeat(9_999)}y`, rate)).toBe(0);
  });
});

describe('maximum connection age', () => {
  const subject = (expiresAt: number | undefined, log: string[], name: string): Expiring => ({
    expiresAt,
    expire: () => log.push(name),
  });

  it('ends a subject in the last tenth of its age, or at its token expiry when that comes first', () => {
    vi.useFakeTimers({ now: 0 });
    const log: string[] = [];
    const aged: string[] = [];
    const expiries = new Expiries({
      maxAgeMs: 10_000,
      onAged: (s) => {
        aged.push((s as unknown as { name: string }).name);
        s.expire();
      },
    });
    const early = { ...subject(3000, log, 'token'), name: 'token' };
    const old = { ...subject(undefined, log, 'age'), name: 'age' };
    expiries.add(early);
    expiries.add(old);
    vi.advanceTimersByTime(3100);
    expect(log).toEqual(['token']);
    vi.advanceTimersByTime(5800);
    expect(log).toEqual(['token']);
    vi.advanceTimersByTime(1200);
    expect(log).toEqual(['token', 'age']);
    expect(aged).toEqual(['age']);
    expect(expiries.size).toBe(0);
  });

  it('forgets an aged subject whose stream ended first', () => {
    vi.useFakeTimers({ now: 0 });
    const log: string[] = [];
    const expiries = new Expiries({ maxAgeMs: 1000 });
    const gone = subject(undefined, log, 'gone');
    expiries.add(gone);
    expiries.delete(gone);
    expect(expiries.size).toBe(0);
    vi.advanceTimersByTime(2000);
    expect(log).toEqual([]);
  });
});

describe('drainStreams', () => {
  it('ends the streams evenly over the window, each after a retry hint of its own', async () => {
    vi.useFakeTimers({ now: 0 });
    const ended: number[] = [];
    const streams = Array.from(
      { length: 100 },
      () => new EventStream({ onClose: () => ended.push(Date.now()) }),
    );
    const done = drainStreams(streams, { durationMs: 1000, retryMs: 500 });
    await vi.advanceTimersByTimeAsync(1100);
    await done;
    expect(ended).toHaveLength(100);
    expect(Math.max(...ended) - Math.min(...ended)).toBeGreaterThanOrEqual(900);
    const perTenth = new Array(10).fill(0);
    for (const t of ended) perTenth[Math.min(9, Math.floor(t / 100))]++;
    expect(Math.max(...perTenth)).toBeLessThanOrEqual(15);
  });
});

describe('revocations', () => {
  it('refuses tokens by jti or sub until the entry ends', () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const denylist = new Denylist();
    denylist.add({ jti: 'j1', until: 1_001_000 });
    denylist.add({ sub: 'mallory', until: 1_002_000 });
    const principal = (subject?: string, tokenId?: string) => ({
      subject,
      tokenId,
      canPublish: () => true,
      canSubscribe: () => true,
    });
    expect(denylist.refuses(principal('x', 'j1'))).toBe(true);
    expect(denylist.refuses(principal('mallory'))).toBe(true);
    expect(denylist.refuses(principal('alice', 'j2'))).toBe(false);
    expect(denylist.refuses(null)).toBe(false);
    vi.setSystemTime(1_001_000);
    expect(denylist.refuses(principal('x', 'j1'))).toBe(false);
    denylist.delete({ sub: 'mallory' });
    expect(denylist.refuses(principal('mallory'))).toBe(false);
  });

  it('checks what the admin API is asked to revoke', () => {
    const now = 1_000_000_000;
    expect(checkRevocation({ jti: 'a' }, now)).toEqual({ jti: 'a', until: now + 86_400_000 });
    expect(checkRevocation({ sub: 'b', ttl: 60 }, now)).toEqual({ sub: 'b', until: now + 60_000 });
    expect(checkRevocation({ sub: 'b', until: now / 1000 + 5 }, now)).toEqual({
      sub: 'b',
      until: now + 5000,
    });
    for (const body of [
      {},
      { jti: 'a', sub: 'b' },
      { jti: '' },
      { jti: 1 },
      { sub: 'b', ttl: 0 },
      { sub: 'b', until: 1 },
    ]) {
      expect(() => checkRevocation(body, now), JSON.stringify(body)).toThrow();
    }
  });
});

describe('admin grants', () => {
  it('reads the actions of urn:ssehub:admin entries only', () => {
    expect(adminActions([{ type: 'urn:ssehub:admin', actions: ['read', 'revoke', 'other'] }])).toEqual([
      'read',
      'revoke',
    ]);
    expect(
      adminActions([{ type: 'https://mercure.rocks/authorization-detail', actions: ['read'] }]),
    ).toBeUndefined();
    expect(adminActions('nope')).toBeUndefined();
  });
});

describe('Histogram', () => {
  it('renders cumulative buckets, sum and count', () => {
    const h = new Histogram([0.1, 1]);
    h.observe(0.05);
    h.observe(0.5);
    h.observe(5);
    expect(h.render('x_seconds', 'X.')).toBe(
      '# HELP x_seconds X.\n# TYPE x_seconds histogram\nx_seconds_bucket{le="0.1"} 1\nx_seconds_bucket{le="1"} 2\nx_seconds_bucket{le="+Inf"} 3\nx_seconds_sum 5.55\nx_seconds_count 3\n',
    );
  });
});
