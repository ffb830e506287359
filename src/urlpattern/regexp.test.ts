import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UrlPatternError } from './error.ts';
import { compileBudget, compileMatcher, matchString } from './matcher.ts';
import { parseRegexp } from './regexp.ts';
import { CharSet } from './syntax.ts';

/**
 * Whole-string match through our parser and automata, with budgets far above the hub's: this checks
 * what the automata match, not what the hub accepts.
 */
function fullMatch(source: string, input: string): boolean {
  return matchString(compileMatcher(parseRegexp(source), compileBudget(10_000, 100_000_000, 60_000)), input);
}

/** Whole-string match as the URL Pattern standard would run it: a `u`-mode `RegExp`. */
function nativeMatch(source: string, input: string): boolean {
  return new RegExp(`^(?:${source})$`, 'u').test(input);
}

describe('parseRegexp', () => {
  it.each([
    ['\\d+', '123', true],
    ['\\d+', '12a', false],
    ['[a-c]{2,3}', 'abc', true],
    ['[a-c]{2,3}', 'a', false],
    ['[^/]+', 'a/b', false],
    ['(?:ab|c)*', 'ababc', true],
    ['(?<year>\\d{4})-\\d\\d', '2024-05', true],
    ['\\u{1F600}|\\uD83D\\uDE00x', '😀', true],
    ['\\uD83D\\uDE00x', '😀x', true],
    ['.', '😀', true],
    ['.', '\n', false],
    ['[\\d-]+', '1-2', true],
    ['\\x41\\cJ\\0', 'A\n\0', true],
    ['a{2,}?', 'aaaa', true],
    ['[]', '', false],
    ['[^]', '\n', true],
    ['\\S\\s\\W\\w', 'a b_', false],
    ['\\S\\s\\W\\w', 'a\u00a0-_', true],
  ])('%s on %j is %s, like RegExp', (source, input, expected) => {
    expect(fullMatch(source, input)).toBe(expected);
    expect(nativeMatch(source, input)).toBe(expected);
  });

  it.each([
    ['a\\1', 'unsupported'],
    ['(a)\\k<x>', 'unsupported'],
    ['(?=a)', 'unsupported'],
    ['(?!a)', 'unsupported'],
    ['(?<!a)b', 'unsupported'],
    ['(?i:a)', 'unsupported'],
    ['\\bx', 'unsupported'],
    ['\\p{L}', 'unsupported'],
    ['^a', 'unsupported'],
    ['a{1,101}', 'unsupported'],
    ['a)', 'malformed'],
    ['(a', 'malformed'],
    ['[a', 'malformed'],
    ['*a', 'malformed'],
    ['a{', 'malformed'],
    ['a{3,2}', 'malformed'],
    ['[z-a]', 'malformed'],
    ['[\\d-z]', 'malformed'],
    ['\\q', 'malformed'],
  ])('refuses %s (%s)', (source, code) => {
    expect(() => parseRegexp(source)).toThrow(UrlPatternError);
    try {
      parseRegexp(source);
    } catch (err) {
      expect((err as UrlPatternError).code).toBe(code);
    }
  });

  it('agrees with RegExp on generated expressions and inputs', () => {
    const atom = fc.constantFrom(
      'a',
      'b',
      '.',
      '\\d',
      '\\w',
      '\\s',
      '\\D',
      '[ab]',
      '[^a]',
      '[a-c1]',
      '\\.',
      '[\\d-]',
      '-',
    );
    const { node } = fc.letrec<{ node: string }>((tie) => ({
      node: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        atom,
        fc.array(tie('node'), { minLength: 2, maxLength: 3 }).map((items) => items.join('')),
        fc.array(tie('node'), { minLength: 2, maxLength: 3 }).map((items) => `(?:${items.join('|')})`),
        fc
          .tuple(tie('node'), fc.constantFrom('*', '+', '?', '{2}', '{1,3}', '{0,}', '*?', '{2,}'))
          .map(([item, quantifier]) => `(?:${item})${quantifier}`),
      ),
    }));
    const input = fc.string({ unit: fc.constantFrom('a', 'b', 'c', '1', '.', ' ', '-', '_'), maxLength: 8 });
    fc.assert(
      fc.property(node, fc.array(input, { minLength: 1, maxLength: 8 }), (source, inputs) => {
        for (const text of inputs)
          expect(fullMatch(source, text), `${source} on ${text}`).toBe(nativeMatch(source, text));
      }),
      { numRuns: 1000 },
    );
  });
});

describe('CharSet', () => {
  it('merges, negates and looks up ranges', () => {
    const set = new CharSet([
      [0x61, 0x63],
      [0x62, 0x66],
      [0x1f600, 0x1f600],
    ]);
    expect(set.ranges).toEqual([0x61, 0x66, 0x1f600, 0x1f600]);
    expect([0x60, 0x61, 0x66, 0x67, 0x1f600].map((cp) => set.has(cp))).toEqual([
      false,
      true,
      true,
      false,
      true,
    ]);
    const inverse = set.negate();
    expect([0x60, 0x61, 0x1f5ff, 0x1f600, 0x10ffff].map((cp) => inverse.has(cp))).toEqual([
      true,
      false,
      true,
      false,
      true,
    ]);
  });
});
