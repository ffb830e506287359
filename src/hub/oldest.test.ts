import { describe, expect, it } from 'vitest';
import { dropOldest } from './oldest.ts';

describe('dropOldest', () => {
  it('leaves a map within its bound alone', () => {
    const map = new Map([...'abcd'].map((k) => [k, k]));
    dropOldest(map, 4);
    expect([...map.keys()]).toEqual([...'abcd']);
  });

  it('past the bound, drops the oldest entries, an eighth of the bound beyond the excess', () => {
    const map = new Map<number, number>();
    for (let i = 0; i < 17; i++) map.set(i, i);
    dropOldest(map, 16);
    // 1 over the bound, plus 16 / 8 = 2 more: the three oldest go.
    expect([...map.keys()]).toEqual(Array.from({ length: 14 }, (_, i) => i + 3));
  });

  it('keeps a map filled one entry at a time within its bound, newest kept', () => {
    const map = new Map<number, number>();
    for (let i = 0; i < 10_000; i++) {
      map.set(i, i);
      dropOldest(map, 100);
      expect(map.size).toBeLessThanOrEqual(100);
    }
    expect(map.has(9_999)).toBe(true);
    expect(map.size).toBeGreaterThan(100 - 100 / 8 - 1);
  });

  it('with a bound under 8, drops only the excess', () => {
    const map = new Map([...'abc'].map((k) => [k, k]));
    dropOldest(map, 2);
    expect([...map.keys()]).toEqual(['b', 'c']);
  });
});
