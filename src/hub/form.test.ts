import { describe, expect, it } from 'vitest';
import { HubError } from './errors.ts';
import { parseForm, parseQuery, readBody } from './form.ts';
import { isReservedTopic } from './topics.ts';

const enc = (s: string) => new TextEncoder().encode(s);

describe('parseForm', () => {
  it('parses like the URL Standard: order, repeats, +, escapes, missing =', () => {
    expect(parseForm(enc('a=1&b=x+y&a=%C3%A9&flag&&=v'))).toEqual([
      ['a', '1'],
      ['b', 'x y'],
      ['a', 'é'],
      ['flag', ''],
      ['', 'v'],
    ]);
    expect(parseQuery('?match=%2Fa&match=*')).toEqual([
      ['match', '/a'],
      ['match', '*'],
    ]);
  });

  it('keeps a leading U+FEFF in names and values, escaped or not', () => {
    expect(parseForm(enc('%EF%BB%BFa=%EF%BB%BFb&c=\ufeffd'))).toEqual([
      ['\ufeffa', '\ufeffb'],
      ['c', '\ufeffd'],
    ]);
    expect(parseQuery('?match=%EF%BB%BF%2Fa')).toEqual([['match', '\ufeff/a']]);
  });

  it('keeps malformed escapes literally', () => {
    expect(parseForm(enc('a=%zz%4&b=%'))).toEqual([
      ['a', '%zz%4'],
      ['b', '%'],
    ]);
  });

  it('refuses invalid UTF-8 with 400 instead of replacing it', () => {
    for (const body of ['a=%FF', 'a=%C3%28', '%ED%A0%80=x', 'a=%F0%9F%98']) {
      expect(() => parseForm(enc(body))).toThrow(HubError);
    }
    expect(() => parseForm(new Uint8Array([0x61, 0x3d, 0xff]))).toThrow(/UTF-8/);
  });

  it('parses a query as text exactly as its bytes: same fields, same refusals', () => {
    // Random queries over the characters that matter: escapes (valid, malformed, invalid UTF-8), +,
    // separators, non-ASCII text.
    const parts = [
      'a',
      '=',
      '&',
      '+',
      '%',
      '%2',
      '%2F',
      '%zz',
      '%C3%A9',
      '%C3',
      '%ED%A0%80',
      '%EF%BB%BF',
      '%FF',
      'é',
      '/',
      '*',
      '%25',
    ];
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const outcome = (parse: () => unknown) => {
      try {
        return parse();
      } catch (error) {
        return error instanceof HubError ? `HubError ${error.message}` : error;
      }
    };
    for (let n = 0; n < 3000; n++) {
      let query = '';
      const length = Math.floor(random() * 8);
      for (let i = 0; i < length; i++) query += parts[Math.floor(random() * parts.length)];
      expect(
        outcome(() => parseQuery(`?${query}`)),
        query,
      ).toEqual(outcome(() => parseForm(enc(query))));
    }
  });
});

describe('readBody', () => {
  it('refuses a body over the limit by Content-Length or by bytes received (413)', async () => {
    const declared = new Request('http://x/', { method: 'POST', body: 'x'.repeat(20) });
    await expect(readBody(declared, 10)).rejects.toMatchObject({ status: 413 });
    const streamed = new Request('http://x/', {
      method: 'POST',
      body: new ReadableStream({
        start(c) {
          for (let i = 0; i < 5; i++) c.enqueue(enc('xxxx'));
          c.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    await expect(readBody(streamed, 10)).rejects.toMatchObject({ status: 413 });
    const ok = new Request('http://x/', { method: 'POST', body: 'hello' });
    expect(new TextDecoder().decode(await readBody(ok, 10))).toBe('hello');
  });
});

describe('isReservedTopic', () => {
  const hub = new URL('https://hub.example/.well-known/mercure');
  it.each([
    ['/.well-known/mercure', true],
    ['/.well-known/mercure/', true],
    ['/.well-known/mercure/subscriptions', true],
    ['https://other.example/.well-known/mercure/x', true],
    ['../.well-known/mercure', true],
    ['/x/%2e%2e/.well-known/mercure', true],
    ['/.well-known/merc%75re', true],
    ['/.well-known/mercurex', false],
    ['/.well-known/mercure%2fx', false],
    ['/.WELL-KNOWN/mercure', false],
    ['urn:example:topic', false],
    ['books/1', false],
  ])('%s → %s', (topic, reserved) => {
    expect(isReservedTopic(topic, hub)).toBe(reserved);
  });
});
