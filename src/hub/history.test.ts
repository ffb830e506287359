import { describe, expect, it } from 'vitest';
import { laneOf, limitsOf } from '../brokers/index.ts';
import { defaults, parseRetentionRules } from '../config/index.ts';
import { retentionOf } from './history.ts';

describe('retentionOf', () => {
  const retention = retentionOf(
    {
      ...defaults,
      historySize: 100,
      historyBytes: 5000,
      historyAge: 60,
      retention: parseRetentionRules('/rooms/*=50,/prices/*=1:10m,/stats=2:1KiB', '/.well-known/mercure'),
    },
    '/.well-known/mercure',
  );

  it('gives each topic of a rule a lane of its own, under the rule bounds and the global ones it leaves', () => {
    expect(laneOf(retention, '/rooms/a')).toBe('topic:/rooms/a');
    expect(laneOf(retention, '/rooms/b')).toBe('topic:/rooms/b');
    expect(limitsOf(retention, 'topic:/rooms/a')).toMatchObject({
      maxCount: 50,
      maxBytes: 5000,
      maxAgeMs: 60_000,
    });
    expect(limitsOf(retention, 'topic:/prices/eur')).toMatchObject({ maxCount: 1, maxAgeMs: 600_000 });
    expect(laneOf(retention, '/stats')).toBe('topic:/stats');
    expect(limitsOf(retention, 'topic:/stats')).toMatchObject({ maxCount: 2, maxBytes: 1024 });
  });

  it('keeps other topics in the default lane and subscription events in theirs', () => {
    expect(laneOf(retention, '/stats/x')).toBe('updates');
    expect(laneOf(retention, '/roomsx')).toBe('updates');
    expect(limitsOf(retention, 'updates')).toEqual({ maxCount: 100, maxBytes: 5000, maxAgeMs: 60_000 });
    expect(laneOf(retention, '/.well-known/mercure/subscriptions/exact/a/b')).toBe('presence');
    expect(limitsOf(retention, 'presence')).toMatchObject({ maxCount: 100, maxAgeMs: 60_000 });
  });
});
