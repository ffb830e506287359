import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHeaderValue, toHeaderValue, utf8Length } from './header-values.ts';

describe('header values', () => {
  it('carries any text as its UTF-8 bytes, one char per byte, and back', () => {
    expect(toHeaderValue('urn:x:1')).toBe('urn:x:1');
    expect(toHeaderValue('é')).toBe('\u00c3\u00a9');
    expect(toHeaderValue('urn:日本')).toBe('urn:\u00e6\u0097\u00a5\u00e6\u009c\u00ac');
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (text) => {
        const value = toHeaderValue(text);
        expect(value).toMatch(/^[\x00-\xff]*$/);
        // A Headers object takes it (a byte string) and gives it back unchanged.
        const headers = new Headers({ 'x-id': `a${value}a` });
        expect(fromHeaderValue(headers.get('x-id')!.slice(1, -1))).toBe(text);
      }),
    );
  });

  it('leaves values that are not UTF-8 bytes as they are', () => {
    // Latin-1 from an old client, and text a runtime already decoded.
    for (const value of ['é', '\u00e9\u00e8', 'urn:日本', '\u00c3', 'caf\u00e9\u00ff']) {
      expect(fromHeaderValue(value)).toBe(value);
    }
  });

  it('keeps a leading U+FEFF', () => {
    expect(fromHeaderValue(toHeaderValue('\ufeffx'))).toBe('\ufeffx');
  });

  it('counts UTF-8 bytes like TextEncoder, lone surrogates included', () => {
    fc.assert(
      fc.property(
        fc.string({
          unit: fc.oneof(
            fc.constantFrom('\ud800', '\udc00'),
            fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
          ),
        }),
        (text) => {
          expect(utf8Length(text)).toBe(new TextEncoder().encode(text).length);
        },
      ),
    );
  });
});
