import fc from 'fast-check';
import { URLPattern } from 'urlpattern-polyfill/urlpattern';
import { describe, expect, it } from 'vitest';
import {
  type CompiledUrlPattern,
  compileUrlPattern,
  createUrlPatternCache,
  measureUrlPattern,
  UrlPatternError,
} from './pattern.ts';

const BASE = 'https://hub.example/.well-known/mercure';
const compile = (pattern: string): CompiledUrlPattern => compileUrlPattern(pattern, BASE);
const matches = (pattern: string, topic: string): boolean => compile(pattern).test(topic);

function refusal(pattern: string, limits?: { maxPatternLength: number }): UrlPatternError {
  try {
    compileUrlPattern(pattern, BASE, limits);
  } catch (err) {
    expect(err).toBeInstanceOf(UrlPatternError);
    return err as UrlPatternError;
  }
  throw new Error(`expected ${pattern} to be refused`);
}

describe('compileUrlPattern', () => {
  it('matches named groups in absolute patterns', () => {
    const books = compile('https://example.com/books/:id');
    expect(books.pattern).toBe('https://example.com/books/:id');
    expect(books.test('https://example.com/books/1')).toBe(true);
    expect(books.test('https://example.com/books/1?format=json#top')).toBe(true);
    expect(books.test('https://example.com/books/')).toBe(false);
    expect(books.test('https://example.com/books/1/reviews')).toBe(false);
    expect(books.test('http://example.com/books/1')).toBe(false);
    expect(books.test('https://example.com:8443/books/1')).toBe(false);
    expect(books.test('https://example.com:443/books/1')).toBe(true);
    expect(books.test('/books/1')).toBe(false); // resolves to hub.example
  });

  it('resolves relative patterns and relative topics against the hub URL', () => {
    const peers = compile('/rooms/:room/peers/:peer');
    expect(peers.test('/rooms/lobby/peers/42')).toBe(true);
    expect(peers.test('https://hub.example/rooms/lobby/peers/42')).toBe(true);
    expect(peers.test('https://other.example/rooms/lobby/peers/42')).toBe(false);
    expect(peers.test('/rooms/lobby/peers/')).toBe(false);
    expect(peers.test('../rooms/lobby/peers/42')).toBe(true);
    expect(matches('books/:id', 'https://hub.example/.well-known/books/7')).toBe(true);
  });

  it('supports wildcards, modifiers and {} groups in the pathname', () => {
    expect(matches('/books/*', '/books/1/reviews/2')).toBe(true);
    expect(matches('/books/*', '/book')).toBe(false);
    expect(matches('/books/:id?', '/books')).toBe(true);
    expect(matches('/books/:id?', '/books/1')).toBe(true);
    expect(matches('/files/:path+', '/files/a/b/c')).toBe(true);
    expect(matches('/files/:path+', '/files')).toBe(false);
    expect(matches('/files/:path*', '/files')).toBe(true);
    expect(matches('/a{/b}?/:c*', '/a/b/c/d')).toBe(true);
    expect(matches('/books/:id{.:ext}?', '/books/1.json')).toBe(true);
    expect(matches('/books/:id(\\d+)', '/books/12')).toBe(true);
    expect(matches('/books/:id(\\d+)', '/books/1a')).toBe(false);
    expect(matches('/:kind(book|film)s/*', '/films/x')).toBe(true);
  });

  it('matches search, hash and hostname components', () => {
    const search = compile('/books/:id\\?lang=:lang');
    expect(search.test('/books/1?lang=fr')).toBe(true);
    expect(search.test('/books/1?lang=fr&x=1')).toBe(true); // `:lang` runs to the end: no delimiters
    expect(search.test('/books/1')).toBe(false);
    expect(matches('/docs#:section', '/docs#intro')).toBe(true);
    expect(matches('/docs#:section', '/docs')).toBe(false);
    expect(matches('https://*.example.com/*', 'https://a.b.example.com/x')).toBe(true);
    expect(matches('https://*.example.com/*', 'https://example.com/x')).toBe(false);
    expect(matches('https://:tenant.example.com/*', 'https://acme.example.com/x')).toBe(true);
    expect(matches('https://:tenant.example.com/*', 'https://a.b.example.com/x')).toBe(false);
    expect(matches('http{s}?://example.com/*', 'http://example.com/')).toBe(true);
  });

  it('is case-sensitive, except where URL parsing canonicalizes', () => {
    expect(matches('/Books/:id', '/books/1')).toBe(false);
    expect(matches('/books/:id', '/BOOKS/1')).toBe(false);
    expect(matches('https://EXAMPLE.com/x', 'HTTPS://Example.COM/x')).toBe(true);
    expect(matches('/:id([a-z]+)', '/ABC')).toBe(false);
  });

  it('never matches a topic that is not a URL, and never throws', () => {
    const any = compile('*://*/*');
    for (const topic of ['https://', 'http://[::1', '//exa mple/', 'https://a:99999/']) {
      expect(any.test(topic)).toBe(false);
    }
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), (topic) => {
        expect(typeof any.test(topic)).toBe('boolean');
      }),
    );
  });

  it('lets absolute patterns stand alone, so URN topics can match', () => {
    expect(matches('urn\\:isbn\\:*', 'urn:isbn:0451450523')).toBe(true);
    expect(matches('urn\\:isbn\\:*', 'urn:uuid:1')).toBe(false);
    // With a base, the standard prepends its path to the opaque path: nothing could ever match.
    expect(new URLPattern('urn\\:isbn\\:*', BASE).pathname).toBe('/.well-known/isbn\\:*');
  });

  it('takes topic components straight from the URL, where the polyfill re-canonicalizes them', () => {
    // URL Pattern "match": for a string input, each component is the parsed URL's own value. The
    // polyfill (10.1.0) re-parses the pathname as a URL (`//x` becomes a host) and strips an
    // extra leading `?` from the search, so it answers true to both of these.
    expect(matches('https://h.example/', 'https://h.example//x')).toBe(false);
    expect(matches('https://h.example//x', 'https://h.example//x')).toBe(true);
    expect(matches('https://h.example/p\\?x', 'https://h.example/p??x')).toBe(false);
    expect(new URLPattern('https://h.example/', BASE).test('https://h.example//x')).toBe(true);
  });

  it('refuses malformed patterns with UrlPatternError', () => {
    for (const pattern of [
      '/books/:',
      '/(',
      '/{abc',
      '/a}',
      '/a+',
      '/((a))',
      '/:a/:a',
      'https://exa mple.com/',
    ]) {
      expect(refusal(pattern).code).toBe('malformed');
    }
    expect(refusal('/(').message).toMatch(/^Invalid URL pattern: /);
  });

  it('refuses regexp syntax outside the linear-time subset', () => {
    for (const pattern of [
      '/((?=a)a)',
      '/((?:a)\\1)',
      '/(a\\b)',
      '/(\\p{L}+)',
      '/(^a)',
      '/(a$)',
      '/((?<=a)b)',
    ]) {
      expect(refusal(pattern).code).toBe('unsupported');
    }
    expect(refusal('/(a{101})').code).toBe('unsupported');
    expect(matches('/(a{100})', `/${'a'.repeat(100)}`)).toBe(true);
  });

  it('refuses patterns that are too long or compile to too many states', () => {
    expect(refusal(`/${'a'.repeat(1024)}`).code).toBe('too-long');
    expect(compile(`/${'a'.repeat(1023)}`).test(`/${'a'.repeat(1023)}`)).toBe(true);
    expect(refusal('/books/:id', { maxPatternLength: 9 }).code).toBe('too-long');
    expect(refusal('/((?:(?:a{100}){100}){100})').code).toBe('too-complex');
    // Repeating nothing makes no states, but compiling it must still cost something.
    expect(refusal('/((?:(?:(?:(?:(?:){100}){100}){100}){100}){100})').code).toBe('too-complex');
  });

  it('refuses long protocol patterns, which the polyfill evaluates by backtracking', () => {
    expect(refusal('(.|.)*(.|.)*(.|.)*(.|.)*(.|.)*(\\d)://x/').code).toBe('unsupported');
    expect(matches('(http|https|ws|wss)://x/*', 'wss://x/chat')).toBe(true);
  });
});

describe('createUrlPatternCache', () => {
  it('compiles each pattern once and evicts the least recently used', () => {
    const cache = createUrlPatternCache(BASE, 2);
    const a = cache.get('/a/:id');
    expect(cache.get('/a/:id')).toBe(a);
    const b = cache.get('/b/:id');
    cache.get('/a/:id');
    cache.get('/c/:id'); // evicts /b/:id
    expect(cache.size).toBe(2);
    expect(cache.get('/a/:id')).toBe(a);
    expect(cache.get('/b/:id')).not.toBe(b);
  });

  it('does not cache refusals', () => {
    const cache = createUrlPatternCache(BASE, 2);
    expect(() => cache.get('/(')).toThrow(UrlPatternError);
    expect(cache.size).toBe(0);
  });
});

describe('agreement with the urlpattern polyfill', () => {
  // Every generator yields a pattern fragment and a text that fragment will often match, so
  // that topics built from the texts hit the interesting paths and not only "no match".
  type Gen = fc.Arbitrary<readonly [pattern: string, sample: string]>;
  const pick = (...choices: (readonly [string, string[]])[]): Gen =>
    fc
      .constantFrom(...choices)
      .chain(([pattern, samples]) => fc.tuple(fc.constant(pattern), fc.constantFrom(...samples)));
  const repeated = (values: string[], between = ''): fc.Arbitrary<string> =>
    fc.array(fc.constantFrom(...values), { maxLength: 3 }).map((vs) => vs.join(between));
  const modifier = fc.constantFrom('', '', '?', '*', '+');
  const group = (choices: (readonly [string, string[]])[]) =>
    fc
      .tuple(fc.constantFrom(...choices), modifier)
      .chain(([[body, values], mod]) =>
        fc.tuple(
          fc.constant(body),
          fc.constant(mod),
          mod === '' ? fc.constantFrom(...values) : repeated(values),
        ),
      );
  const NAMED: (readonly [string, string[]])[] = [
    ['', ['a', 'ab', '1', 'x']],
    ['(\\d+)', ['1', '12', 'a']],
    ['(a|bb)', ['a', 'bb', 'b']],
    ['([ab]{1,3})', ['ab', 'bab', 'abab']],
  ];
  const REGEXP: (readonly [string, string[]])[] = [
    ['(\\d+)', ['1', '12']],
    ['([ab]+)', ['ab', 'b']],
    ['(a*)', ['', 'aa']],
    ['([^.]{1,2})', ['a', 'a.', 'ab']],
    ['(\\w?b)', ['b', 'ab', '_b']],
    ['((?:ab)+)', ['ab', 'abab', 'aba']],
  ];
  // Each piece takes an index so that group names are unique within the pattern.
  const piece: fc.Arbitrary<readonly [(i: number) => string, string]> = fc.oneof(
    fc.constantFrom('a', 'b', 'ab', '/', '/a', '.', '-', '1').map((text) => [() => text, text] as const),
    group(NAMED).map(([body, mod, sample]) => [(i: number) => `:p${i}${body}${mod}`, sample] as const),
    group(REGEXP).map(([body, mod, sample]) => [() => `${body}${mod}`, sample] as const),
    fc
      .tuple(modifier, fc.constantFrom('a', 'a/b', '', 'a.b'))
      .map(([mod, sample]) => [() => `*${mod}`, sample] as const),
    fc
      .tuple(fc.constantFrom('', 'a', '/', '.', '-'), group(NAMED), fc.constantFrom('', 'b', '-', '/'))
      .chain(([prefix, [body, mod], suffix]) =>
        fc.tuple(
          fc.constant((i: number) => `{${prefix}:p${i}${body}${suffix}}${mod}`),
          repeated(NAMED.find(([b]) => b === body)![1].map((v) => `${prefix}${v}${suffix}`)),
        ),
      ),
  );
  // The reference must stay fast: the polyfill backtracks polynomially in the number of unbounded
  // quantifiers and exponentially in the length of text a nested one (`:p+`, `([ab]+)*`) must
  // split; `/:p([ab]{1,3})****.` once took it minutes on a 60-character topic. So: at most three
  // `*`/`+`, and paths of at most MAX_PATH characters.
  const MAX_PATH = 16;
  const path: Gen = fc
    .array(piece, { maxLength: 5 })
    .map(
      (pieces) =>
        [
          `/${pieces.map(([p], i) => p(i)).join('')}`,
          `/${pieces.map(([, sample]) => sample).join('')}`,
        ] as const,
    )
    .filter(([pattern, sample]) => (pattern.match(/[*+]/g)?.length ?? 0) <= 3 && sample.length <= MAX_PATH);
  const scheme = pick(
    ['', ['']],
    ['https://', ['https://', 'http://']],
    ['http{s}?://', ['http://', 'https://']],
    ['*://', ['wss://', 'http://']],
  );
  const host = pick(
    ['hub.example', ['hub.example']],
    ['example.com', ['example.com', 'EXAMPLE.com']],
    ['*.example.com', ['a.example.com', 'a.b.example.com', 'example.com']],
    [':sub.example.com', ['a.example.com', 'a.b.example.com']],
    ['{:sub.}?example.com', ['example.com', 'a1.example.com']],
    ['a(\\d+).example.com', ['a1.example.com', 'a.example.com']],
  );
  const search = fc.option(
    pick(
      ['q=1', ['q=1', 'q=2']],
      ['q=:v', ['q=ab', 'q=']],
      ['q=*', ['q=1&r=2']],
      ['a=(\\d+)', ['a=12']],
      ['*', ['x']],
    ),
  );
  const hash = fc.option(pick(['top', ['top']], ['*', ['x']], [':h', ['x1', '']], ['x(\\d+)', ['x12', 'x']]));
  const url = (
    [sc, h, p, q, f]: readonly [string, string, string, string | undefined, string | undefined],
    escapeSearch: boolean,
  ): string =>
    `${sc === '' ? '' : sc + h}${p}${q === undefined ? '' : `${escapeSearch ? '\\?' : '?'}${q}`}${f === undefined ? '' : `#${f}`}`;
  const patternAndSample = fc
    .tuple(scheme, host, path, search, hash)
    .map(
      ([sc, h, p, q, f]) =>
        [
          url([sc[0], h[0], p[0], q?.[0], f?.[0]], true),
          url([sc[1], h[1], p[1], q?.[1], f?.[1]], false),
        ] as const,
    );
  // Independent topics, for the "no match" side.
  const segment = fc.constantFrom('a', 'b', 'ab', 'bb', 'aab', '1', '12', 'x', 'a.b', 'a-b', 'A', '-');
  const topic = fc
    .tuple(
      fc.constantFrom('', '', 'https://', 'http://', 'wss://'),
      fc.constantFrom('hub.example', 'example.com', 'a.example.com', 'a1.example.com', 'a.b.example.com'),
      fc
        .array(segment, { minLength: 1, maxLength: 5 })
        .map((segments) => `/${segments.join('/')}`)
        .filter((path) => path.length <= MAX_PATH),
      fc.option(fc.constantFrom('q=1', 'q=ab', 'a=12', 'q=1&r=2', ''), { nil: undefined }),
      fc.option(fc.constantFrom('top', 'x1', 'x12', ''), { nil: undefined }),
    )
    .map((parts) => url(parts, false));

  /**
   * False for topics where the polyfill departs from the standard (see above): a pathname that
   * starts with `//`, a search that starts with `?`, a hash that starts with `#`.
   */
  function agreedOn(topic: string): boolean {
    if (!URL.canParse(topic, BASE)) return true;
    const { pathname, search, hash } = new URL(topic, BASE);
    return !pathname.startsWith('//') && !search.startsWith('??') && !hash.startsWith('##');
  }

  /** What the polyfill answers, with absolute patterns standing alone as in `compileUrlPattern`. */
  function reference(source: string): URLPattern | undefined {
    for (const base of [undefined, BASE]) {
      try {
        return base === undefined ? new URLPattern(source) : new URLPattern(source, base);
      } catch {}
    }
    return undefined;
  }

  it('accepts the same patterns and gives the same answers', () => {
    let positives = 0;
    let checks = 0;
    fc.assert(
      fc.property(patternAndSample, fc.array(topic, { maxLength: 5 }), ([source, sample], others) => {
        const expected = reference(source);
        if (!expected) {
          expect(() => compile(source)).toThrow(UrlPatternError);
          return;
        }
        const compiled = compile(source);
        for (const t of [sample, ...others].filter(agreedOn)) {
          const want = expected.test(t, BASE);
          expect(compiled.test(t), `${source} vs ${t}`).toBe(want);
          positives += want ? 1 : 0;
          checks++;
        }
      }),
      { numRuns: 2000 },
    );
    // Guard the generators themselves: a differential test that never matches proves little.
    expect(positives / checks).toBeGreaterThan(0.05);
  });
});

describe('linear-time guarantee', () => {
  const a = (n: number): string => 'a'.repeat(n);
  // Each pattern with a ~4 KB topic it must reject and one it must accept. The comments give the
  // time the polyfill's backtracking `RegExp` took to reject much shorter topics (Node 20, 2-core
  // Debian box); at 4 KB it would run for years, so the suite never asks it.
  const cases = [
    // O(n^8): 0.28 s for 40 a's, 6.6 s for 50.
    { pattern: 'https://x/*a*a*a*a*a*a*a*a*b', miss: `https://x/${a(4096)}`, hit: `https://x/${a(4095)}b` },
    // O(n^7) on segment wildcards: 0.35 s for `/` + 40 a's + `/`.
    { pattern: '/:a:b:c:d:e:f:g', miss: `/${a(4096)}/`, hit: `/${a(4096)}` },
    // O(n^6) in the hostname: 1.6 s for a 60-letter label.
    {
      pattern: 'https://:a:b:c:d:e:f.example.com',
      miss: `https://${a(4000)}.example.co`,
      hit: `https://${a(4000)}.example.com`,
    },
    // Exponential: 1.1 s for 25 a's, 11 s for 28.
    { pattern: '/{(a+)}+b', miss: `/${a(4096)}`, hit: `/${a(4095)}b` },
    // Exponential: 1.9 s for 25 a's. (`/((a|a)*)*c` is refused by the standard: capturing group.)
    { pattern: '/((?:a|a)*)*c', miss: `/${a(4096)}`, hit: `/${a(4095)}c` },
    // Exponential: 2.8 s for 25 a's, 23 s for 28.
    { pattern: '/:x((?:a|a)+)+b', miss: `/${a(4096)}`, hit: `/${a(4095)}b` },
    // O(n^12) through counted repetition: 1.3 s for 26 a's, 25 s for 31.
    { pattern: '/((?:.*a){12})', miss: `/${a(4096)}b`, hit: `/${a(4096)}` },
    // Linear even for the polyfill (each `+` repetition needs a `/`), listed as the classic form.
    { pattern: '/(a+)+b', miss: `/${a(4096)}`, hit: `/${a(4095)}b` },
  ];

  it.each(cases)('$pattern stays within steps ∝ |pattern| × |topic|', ({ pattern, miss, hit }) => {
    const compiled = compile(pattern);
    const started = performance.now();
    const rejected = measureUrlPattern(compiled, miss);
    const accepted = measureUrlPattern(compiled, hit);
    const elapsed = performance.now() - started;
    expect(rejected.matched).toBe(false);
    expect(accepted.matched).toBe(true);
    // The deterministic bound: the NFA is linear in the pattern (the constant covers the six
    // components a path-only pattern leaves implicit), and each input code point visits each
    // state at most once.
    const bound = (topic: string): number => 4 * (pattern.length + 16) * (topic.length + 1);
    expect(rejected.states).toBeLessThanOrEqual(4 * (pattern.length + 16));
    expect(rejected.steps).toBeLessThanOrEqual(bound(miss));
    expect(accepted.steps).toBeLessThanOrEqual(bound(hit));
    expect(elapsed).toBeLessThan(2000);
  });
});
