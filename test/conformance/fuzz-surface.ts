/**
 * Random input over the HTTP surface a stranger (or a publisher) reaches: URL patterns and matchers
 * (each request answered quickly, 200 or 400, never 500, the hub responsive throughout), and update
 * ids, types and data (the SSE framing intact on the wire, every header valid, ids round-tripping
 * through Last-Event-ID and Mercure-Last-Event-ID).
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { HUB, publish, q, subscribe, uniqueTopic } from './client.ts';
import { bytesOf, utf8Header } from './ids.ts';
import type { Target } from './target.ts';

/** Pattern syntax and the characters around it, weighted towards what makes automata grow. */
const patternChar = fc.constantFrom(
  ...'/:*(){}?+.\\|[]^$-_aab09%&=#@~!'.split(''),
  ':a',
  ':b',
  '(.*)',
  '(a|b)',
  '{2,9}',
  '\\d',
  '[^/]',
  '*',
  '/',
  'é',
  '\u{1F600}',
);
const pattern = fc.array(patternChar, { minLength: 1, maxLength: 80 }).map((parts) => `/${parts.join('')}`);
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Any text at all, including what the hub must refuse (controls, format characters, lone surrogates). */
const anyText = fc.string({ unit: 'binary', minLength: 1, maxLength: 60 });

export function surfaceFuzzTests(target: () => Target) {
  const url = () => target().url;

  it('answers random URL patterns and matchers quickly with 200 or 400, and stays responsive', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(pattern, { minLength: 1, maxLength: 6 }),
        fc.array(anyText, { maxLength: 3 }),
        async (patterns, exact) => {
          const query = [
            ...patterns.map((p) => `match_urlpattern=${q(p)}`),
            ...exact.map((m) => `match=${q(m)}`),
          ].join('&');
          const started = performance.now();
          const sub = await subscribe(url(), query);
          const took = performance.now() - started;
          sub.close();
          expect([200, 400]).toContain(sub.status);
          expect(took).toBeLessThan(2000);
        },
      ),
      { numRuns: 120 },
    );
    const started = performance.now();
    expect((await fetch(`${url()}/healthz`)).status).toBe(200);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('keeps the SSE framing and valid headers for random ids, types and data, or refuses them with 400', async () => {
    const topic = uniqueTopic('surface');
    const watcher = await subscribe(url(), `match=${q(topic)}`);
    const published: { id: string; type?: string; data: string }[] = [];
    await fc.assert(
      fc.asyncProperty(
        fc.option(fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }), { nil: undefined }),
        fc.option(fc.string({ unit: 'binary', minLength: 1, maxLength: 20 }), { nil: undefined }),
        fc.string({ unit: 'binary', maxLength: 200 }),
        async (id, type, data) => {
          const form: [string, string][] = [
            ['topic', topic],
            ['data', data],
          ];
          if (id !== undefined) form.push(['id', id]);
          if (type !== undefined) form.push(['type', type]);
          const result = await publish(url(), form);
          // A lone surrogate cannot be sent as UTF-8: URLSearchParams writes U+FFFD for it.
          const sent = (text: string) => text.replace(LONE_SURROGATE, '\ufffd');
          if (result.status !== 200) {
            expect(result.status).toBe(400);
            return;
          }
          expect(result.text).toBe(id === undefined ? result.text : sent(id));
          // A repeated id (fast-check repeats values) is answered with it and not delivered again.
          if (published.some((p) => p.id === result.text)) return;
          published.push({
            id: result.text,
            type: type === undefined ? undefined : sent(type),
            data: sent(data),
          });
        },
      ),
      { numRuns: 150 },
    );
    expect(published.length).toBeGreaterThan(20);
    await watcher.waitForEvents(published.length, 10_000);
    // What the independent parser read is exactly what was published: no field leaked into another.
    expect(
      watcher.events.map((e) => ({ id: e.id, type: e.event, data: e.data.replace(/\r\n?/g, '\n') })),
    ).toEqual(published.map((p) => ({ id: p.id, type: p.type, data: p.data.replace(/\r\n?/g, '\n') })));
    watcher.close();
    // Every id resumes as a cursor, sent back as EventSource would (its UTF-8 bytes).
    for (const { id } of published.slice(0, 10)) {
      const resumed = await subscribe(url(), `match=${q(topic)}`, { 'last-event-id': utf8Header(id) });
      expect(resumed.status).toBe(200);
      expect(bytesOf(resumed.headers.get('mercure-last-event-id')).toString('utf8')).toBe(id);
      resumed.close();
    }
  });

  it('never answers 500 to a subscription with random query bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (bytes) => {
        const query = [...bytes].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
        const res = await fetch(`${url()}${HUB}?${query}`);
        await res.body?.cancel();
        expect([200, 400]).toContain(res.status);
      }),
      { numRuns: 100 },
    );
  });
}
