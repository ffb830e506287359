import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  applyStateEvent,
  depthOf,
  inboxPattern,
  isRoomName,
  type Json,
  mergePatch,
  parseStateEvent,
  presencePattern,
} from './index.ts';

describe('mergePatch (RFC 7386)', () => {
  // The examples of RFC 7386 Appendix A: [target, patch, result].
  const cases: Array<[Json, Json, Json]> = [
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [
      ['a', 'b'],
      ['c', 'd'],
      ['c', 'd'],
    ],
    [{ a: 'b' }, ['c'], ['c']],
    [{ a: 'foo' }, null, null],
    [{ a: 'foo' }, 'bar', 'bar'],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ];
  it.each(cases)('%j patched with %j is %j', (target, patch, result) => {
    expect(mergePatch(target, patch)).toEqual(result);
  });

  it('modifies neither argument', () => {
    const target = { a: { b: 1 } };
    const patch = { a: { c: 2 } };
    mergePatch(target, patch);
    expect(target).toEqual({ a: { b: 1 } });
    expect(patch).toEqual({ a: { c: 2 } });
  });

  it('keeps "__proto__" as a plain member, never as a prototype', () => {
    const patch = JSON.parse('{"__proto__": {"polluted": true}, "x": 1}');
    const result = mergePatch({}, patch) as Record<string, unknown>;
    expect(Object.getPrototypeOf(result)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(JSON.stringify(result)).toBe('{"__proto__":{"polluted":true},"x":1}');
  });

  it('is idempotent: applying the same patch twice changes nothing more', () => {
    const json = fc.jsonValue({ maxDepth: 4 }) as fc.Arbitrary<Json>;
    fc.assert(
      fc.property(json, json, (target, patch) => {
        const once = mergePatch(target, patch);
        expect(mergePatch(once, patch)).toEqual(once);
      }),
    );
  });
});

describe('room names and patterns', () => {
  it('accepts URL-safe names of 1 to 64 characters only', () => {
    expect(['a', 'team-42', 'A_b', 'x'.repeat(64)].every(isRoomName)).toBe(true);
    expect(['', 'x'.repeat(65), 'a b', 'a/b', 'a.b', '..', 'é', 'a%2F', 'a?b'].some(isRoomName)).toBe(false);
  });

  it('builds patterns that name the room literally', () => {
    expect(inboxPattern('r1')).toBe('/rooms/r1/peers/:peer([A-Za-z0-9_-]+)\\?#');
    expect(presencePattern('/.well-known/mercure', 'r1')).toBe(
      '/.well-known/mercure/subscriptions/exact/%2Frooms%2Fr1%2Fpeers%2F:peer([A-Za-z0-9_-]+)/:subscriber\\?#',
    );
  });

  it('measures nesting depth without recursion', () => {
    let deep: Json = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(depthOf(deep)).toBeGreaterThan(32);
    expect(depthOf({ a: [1, { b: 2 }] })).toBe(3);
  });
});

describe('the state log', () => {
  const create = { kind: 'create', epoch: 'e1' } as const;
  it('starts a lineage, merges patches, counts versions', () => {
    let s = applyStateEvent(undefined, create);
    s = applyStateEvent(s, { kind: 'patch', ref: 'r1', from: 'p', patch: { a: 1 } });
    s = applyStateEvent(s, { kind: 'patch', ref: 'r2', from: 'q', patch: { b: { c: 2 } } });
    expect(s).toEqual({ epoch: 'e1', version: 2, value: { a: 1, b: { c: 2 } } });
  });

  it('ignores patches while the state is unknown', () => {
    expect(
      applyStateEvent(undefined, { kind: 'patch', ref: 'r', from: null, patch: { a: 1 } }),
    ).toBeUndefined();
  });

  it('restores only into an untouched lineage of the same epoch', () => {
    const fresh = applyStateEvent(undefined, create);
    const restore = { kind: 'restore', ref: 'r', from: 'p', epoch: 'e1', state: { kept: true } } as const;
    expect(applyStateEvent(fresh, restore)).toEqual({ epoch: 'e1', version: 1, value: { kept: true } });
    const touched = applyStateEvent(fresh, { kind: 'patch', ref: 'x', from: 'q', patch: { a: 1 } });
    expect(applyStateEvent(touched, restore)).toBe(touched);
    expect(applyStateEvent(fresh, { ...restore, epoch: 'other' })).toBe(fresh);
  });

  it('treats a compaction as a no-op for whoever followed the log, and as an anchor otherwise', () => {
    const compact = { kind: 'compact', epoch: 'e1', version: 5, state: { a: 1 }, through: 'u5' } as const;
    const known = { epoch: 'e1', version: 6, value: { a: 1, b: 2 } };
    expect(applyStateEvent(known, compact)).toBe(known);
    expect(applyStateEvent(undefined, compact)).toEqual({ epoch: 'e1', version: 5, value: { a: 1 } });
  });

  it('parses well-formed events and refuses anything else', () => {
    expect(parseStateEvent('{"kind":"patch","ref":"r","from":null,"patch":{"a":1}}')).toEqual({
      kind: 'patch',
      ref: 'r',
      from: null,
      patch: { a: 1 },
    });
    for (const bad of [
      'not json',
      '[]',
      '{"kind":"patch","ref":"r","from":null,"patch":[1]}',
      '{"kind":"patch","ref":"","from":null,"patch":{}}',
      '{"kind":"create"}',
      '{"kind":"compact","epoch":"e","version":1.5,"state":{},"through":"u"}',
      '{"kind":"explode"}',
    ]) {
      expect(parseStateEvent(bad)).toBeUndefined();
    }
  });
});
