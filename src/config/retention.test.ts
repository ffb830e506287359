import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from './index.ts';

const rules = (value: string) => {
  const parsed = parseConfig(['--retention', value], {});
  if (parsed.help) throw new Error('unexpected help');
  return parsed.config.retention;
};

describe('retention rules', () => {
  it('parses prefixes, exact topics, and count, size and age bounds', () => {
    expect(
      rules(' /rooms/*=50, /prices/*=1 ,/stats=2:64KiB, https://example.com/logs/*=1000:1MB:1h '),
    ).toEqual([
      { pattern: '/rooms/*', prefix: '/rooms/', exact: false, maxCount: 50 },
      { pattern: '/prices/*', prefix: '/prices/', exact: false, maxCount: 1 },
      { pattern: '/stats', prefix: '/stats', exact: true, maxCount: 2, maxBytes: 65_536 },
      {
        pattern: 'https://example.com/logs/*',
        prefix: 'https://example.com/logs/',
        exact: false,
        maxCount: 1000,
        maxBytes: 1_000_000,
        maxAge: 3600,
      },
    ]);
    expect(rules('/a?x=1=30s:5')).toEqual([
      { pattern: '/a?x=1', prefix: '/a?x=1', exact: true, maxAge: 30, maxCount: 5 },
    ]);
    expect(rules('/b*=7d')).toEqual([{ pattern: '/b*', prefix: '/b', exact: false, maxAge: 604_800 }]);
    expect(parseConfig([], { SSEHUB_RETENTION: '/x/*=3' })).toMatchObject({
      config: { retention: [{ prefix: '/x/', maxCount: 3 }] },
    });
    expect(rules('')).toEqual([]);
  });

  it.each([
    ['/rooms/*', /PATTERN=BOUNDS/],
    ['*=5', /prefix ending with \*/],
    ['=5', /prefix ending with \*/],
    ['/a/*/b=5', /\* may only end/],
    ['/a=', /not a count/],
    ['/a=5:6', /count twice/],
    ['/a=5Q', /unknown unit/],
    ['/a=0s', /age of 0/],
    ['/a=-1', /not a count/],
    ['/a=1,/a=2', /two rules/],
    ['/.well-known/mercure/subscriptions/*=5', /hub's own/],
    ['/a=99999999999999999999', /too large/],
  ])('refuses %s with a clear error naming the setting', (value, message) => {
    expect(() => rules(value)).toThrow(ConfigError);
    expect(() => rules(value)).toThrow(message);
    expect(() => rules(value)).toThrow(/^--retention: /);
  });

  it('reads the history file and age', () => {
    const parsed = parseConfig(['--history-file', '/tmp/x.db'], { SSEHUB_HISTORY_AGE: '60' });
    expect(parsed).toMatchObject({ config: { historyFile: '/tmp/x.db', historyAge: 60 } });
    expect(parseConfig([], {})).toMatchObject({
      config: { historyFile: 'ssehub.db', historyAge: 0, historySync: 'normal' },
    });
    expect(parseConfig(['--history-sync=full'], {})).toMatchObject({ config: { historySync: 'full' } });
    expect(() => parseConfig([], { SSEHUB_HISTORY_SYNC: 'FULL' })).toThrow(
      'SSEHUB_HISTORY_SYNC must be one of normal, full, got "FULL"',
    );
  });
});
