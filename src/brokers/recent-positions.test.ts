import { describe, expect, it } from 'vitest';
import { RecentPositions } from './recent-positions.ts';

/** The store's answers, from every position it holds. */
const afterIn = (all: number[], pos: number, count: number) => all.filter((p) => p > pos).slice(0, count);
const beforeIn = (all: number[], pos: number, count: number) =>
  all
    .filter((p) => p < pos)
    .reverse()
    .slice(0, count);

describe('RecentPositions', () => {
  it('answers nothing before it is reset, then what the store would, or undefined below what it holds', () => {
    const recent = new RecentPositions(4);
    expect(recent.after(0, 10)).toBeUndefined();
    expect(recent.before(100, 10)).toBeUndefined();
    recent.add(1); // not started: ignored
    const all = [2, 3, 5, 8, 13, 21];
    recent.reset([...all].reverse().slice(0, recent.wanted));
    // It holds 5, 8, 13, 21: the floor is 3.
    expect(recent.after(3, 10)).toEqual([5, 8, 13, 21]);
    expect(recent.after(9, 1)).toEqual([13]);
    expect(recent.after(2, 10)).toBeUndefined();
    expect(recent.before(22, 4)).toEqual([21, 13, 8, 5]);
    expect(recent.before(22, 5)).toBeUndefined();
    expect(recent.before(13, 2)).toEqual([8, 5]);
    // Fewer than it keeps: it holds them all, and answers any query.
    recent.reset([3, 1]);
    expect(recent.after(-1, Number.POSITIVE_INFINITY)).toEqual([1, 3]);
    expect(recent.before(Number.MAX_SAFE_INTEGER, 10)).toEqual([3, 1]);
    recent.clear();
    expect(recent.after(-1, 1)).toBeUndefined();
  });

  it('agrees with the store through random inserts, deletes anywhere and resets', () => {
    let seed = 11;
    const random = (k: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % k;
    };
    for (const capacity of [1, 3, 16]) {
      const recent = new RecentPositions(capacity);
      let all: number[] = [];
      let next = 0;
      recent.reset([]);
      let answered = 0;
      for (let step = 0; step < 3000; step++) {
        const op = random(10);
        if (op < 6) {
          next += 1 + random(3);
          all.push(next);
          recent.add(next);
        } else if (op < 9 && all.length > 0) {
          const pos = all[random(all.length)]!;
          all = all.filter((p) => p !== pos);
          recent.remove(pos);
        } else if (op === 9 && random(10) === 0) {
          recent.reset([...all].reverse().slice(0, recent.wanted));
        }
        const pos = next - random(2 * capacity + 4);
        const count = 1 + random(capacity + 2);
        const forward = recent.after(pos, count);
        if (forward) {
          expect(forward).toEqual(afterIn(all, pos, count));
          answered++;
        }
        const backward = recent.before(pos, count);
        if (backward) {
          expect(backward).toEqual(beforeIn(all, pos, count));
          answered++;
        }
      }
      // Many queries near the head are answered from memory (of 6,000).
      expect(answered).toBeGreaterThan(1500);
    }
  });
});
