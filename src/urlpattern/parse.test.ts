import fc from 'fast-check';
import { URLPattern } from 'urlpattern-polyfill/urlpattern';
import { describe, expect, it } from 'vitest';
import { UrlPatternError } from './error.ts';
import { parseParts, protocolEnd, tokenize } from './parse.ts';

const PATHNAME = { delimiters: '/', prefixes: '/' };

describe('tokenize', () => {
  it('produces the standard token types', () => {
    expect(tokenize('/:id(\\d+)?{.x}*\\:').map(({ type, value }) => `${type}:${value}`)).toEqual([
      'char:/',
      'name:id',
      'regexp:\\d+',
      'modifier:?',
      'open:{',
      'char:.',
      'char:x',
      'close:}',
      'asterisk:*',
      'escaped::',
      'end:',
    ]);
  });

  it('refuses what the strict tokenizer refuses, and marks it invalid when lenient', () => {
    for (const bad of ['/:', '/(', '/()', '/((a))', '/(?a)', '/(é)', '\\']) {
      expect(() => tokenize(bad)).toThrow(UrlPatternError);
    }
    expect(tokenize('a:/', true).map(({ type }) => type)).toEqual(['char', 'invalid', 'char', 'end']);
  });
});

describe('parseParts', () => {
  it('takes a preceding "/" as the implicit prefix of a pathname group', () => {
    expect(parseParts('/books/:id?', PATHNAME)).toEqual([
      { type: 'fixed', prefix: '', value: '/books', suffix: '', modifier: '' },
      { type: 'segment', prefix: '/', value: '[^\\/]+?', suffix: '', modifier: '?' },
    ]);
    // "." is not a pathname prefix, so it stays fixed text.
    expect(parseParts('/*.:ext?', PATHNAME).map((p) => [p.type, p.prefix, p.value])).toEqual([
      ['full', '/', '.*'],
      ['fixed', '', '.'],
      ['segment', '', '[^\\/]+?'],
    ]);
  });

  it('keeps {…} prefixes and suffixes and merges plain braces into fixed text', () => {
    expect(parseParts('/a{-:x(\\d+)-}+{b}', PATHNAME)).toEqual([
      { type: 'fixed', prefix: '', value: '/a', suffix: '', modifier: '' },
      { type: 'regexp', prefix: '-', value: '\\d+', suffix: '-', modifier: '+' },
      { type: 'fixed', prefix: '', value: 'b', suffix: '', modifier: '' },
    ]);
  });

  it('refuses stray modifiers and braces', () => {
    for (const bad of ['/a+', '/a}', '/{a', '/{:a:b}', '?']) {
      expect(() => parseParts(bad, PATHNAME)).toThrow(UrlPatternError);
    }
  });
});

describe('protocolEnd', () => {
  it('finds the first ":" the constructor string parser would take as the protocol end', () => {
    expect(protocolEnd('https://example.com/:id')).toBe(5);
    expect(protocolEnd('http{s}?://x')).toBe(8);
    expect(protocolEnd('urn\\:isbn\\:*')).toBe(3);
    expect(protocolEnd('(https|wss)://x')).toBe(11);
    expect(protocolEnd('/books/:id')).toBe(-1);
    expect(protocolEnd('{a:}b')).toBe(-1);
    expect(protocolEnd('?q=:v')).toBe(-1);
  });

  it('agrees with the polyfill on which patterns need a base URL', () => {
    const pattern = fc.string({
      unit: fc.constantFrom('a', 's', ':', '/', '\\', '{', '}', '(', ')', '*', '?', '#', 'x', '1'),
      maxLength: 12,
    });
    fc.assert(
      fc.property(pattern, (source) => {
        let needsBase = false;
        try {
          new URLPattern(source);
        } catch (err) {
          needsBase = /base URL must be provided/.test((err as Error).message);
        }
        if (needsBase) expect(protocolEnd(source)).toBe(-1);
        else if (canConstruct(source)) expect(protocolEnd(source)).toBeGreaterThanOrEqual(0);
      }),
      { numRuns: 2000 },
    );
  });
});

function canConstruct(source: string): boolean {
  try {
    new URLPattern(source);
    return true;
  } catch {
    return false;
  }
}
