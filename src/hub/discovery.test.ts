import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { mercureDiscovery, mercureLink } from './discovery.ts';

describe('mercureDiscovery', () => {
  const hub = 'https://hub.example.com/.well-known/mercure';

  it('adds Link: <hub>; rel="mercure" to the responses of the routes it covers, and keeps other links', async () => {
    const app = new Hono();
    app.use('/books/*', mercureDiscovery({ hub, self: (url) => url.href }));
    app.get('/books/:id', (c) =>
      c.json({ id: c.req.param('id') }, 200, { link: '</style.css>; rel="preload"' }),
    );
    app.get('/other', (c) => c.text('no link'));
    const res = await app.request('http://app.example.com/books/1');
    expect(res.headers.get('link')).toBe(
      `</style.css>; rel="preload", <${hub}>; rel="mercure", <http://app.example.com/books/1>; rel="self"`,
    );
    expect(await res.json()).toEqual({ id: '1' });
    expect((await app.request('http://app.example.com/other')).headers.get('link')).toBeNull();
  });

  it('formats the link value', () => {
    expect(mercureLink(hub)).toBe(`<${hub}>; rel="mercure"`);
  });
});
