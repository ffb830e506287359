/** Admin listings merged across objects: whole counts at page boundaries, each row once. */
import { describe, expect, it } from 'vitest';
import { mergeListings } from './aggregate.ts';

const topic = (match: string, subscribers: number) => ({ match, match_type: 'exact', subscribers });

describe('mergeListings', () => {
  it('adds up a topic across objects and stops where one object has not listed yet', () => {
    const merged = mergeListings(
      'topics',
      [
        { topics: [topic('/a', 1), topic('/b', 2)], next: 'exact:/b', scope: 'hub' },
        { topics: [topic('/a', 3), topic('/c', 1)], next: null, scope: 'hub' },
      ],
      2,
    );
    // /c is past what the first object listed (it may hold /c too): not in this page.
    expect(merged).toEqual({ topics: [topic('/a', 4), topic('/b', 2)], next: 'exact:/b', scope: 'hub' });
  });

  it('lists each subscriber once and ends when every object has', () => {
    const row = (subscriber: string) => ({ subscriber, match: '/a', match_type: 'exact', local: true });
    const merged = mergeListings(
      'subscribers',
      [
        { subscribers: [row('s1'), row('s4')], next: null },
        { subscribers: [row('s2')], next: null },
      ],
      10,
    );
    expect(merged).toEqual({ subscribers: [row('s1'), row('s2'), row('s4')], next: null });
  });
});
