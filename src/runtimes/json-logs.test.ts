import { describe, expect, it } from 'vitest';
import { jsonLine } from './json-logs.ts';

describe('jsonLine', () => {
  const now = new Date('2026-01-02T03:04:05.000Z');

  it('makes one JSON object of a log call: time, level, message without the prefix, fields', () => {
    const line = jsonLine('info', ['ssehub: draining: 3 of 10 streams left', { left: 3, total: 10 }], now);
    expect(JSON.parse(line)).toEqual({
      time: '2026-01-02T03:04:05.000Z',
      level: 'info',
      msg: 'draining: 3 of 10 streams left',
      left: 3,
      total: 10,
    });
    expect(line).not.toContain('\n');
  });

  it('keeps an error as a field, with its stack', () => {
    const record = JSON.parse(jsonLine('error', ['ssehub: publish failed', new Error('boom')], now));
    expect(record).toMatchObject({
      level: 'error',
      msg: 'publish failed',
      error: { name: 'Error', message: 'boom' },
    });
    expect(record.error.stack).toContain('boom');
  });

  it('writes other values as JSON, and survives cycles', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const record = JSON.parse(jsonLine('warn', ['multi\nline', 42, [1, 2], new Map()], now));
    expect(record.msg).toBe('multi\nline 42 [1,2] {}');
    expect(() => jsonLine('info', [Object.create(cyclic)], now)).not.toThrow();
  });
});
