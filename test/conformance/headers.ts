/**
 * Security headers: the browser pages get a strict Content-Security-Policy (nothing inline, nothing
 * from elsewhere, never framed, no Referer); text and JSON answers, errors above all (they quote the
 * request), are never sniffed into something a browser would run.
 */
import { expect, it } from 'vitest';
import { HUB, publish, q, uniqueTopic } from './client.ts';
import type { Target } from './target.ts';

/** The directives of a Content-Security-Policy header, by name. */
function directives(header: string | null): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const part of (header ?? '').split(';')) {
    const [name, ...values] = part.trim().split(/\s+/);
    if (name) map.set(name.toLowerCase(), values);
  }
  return map;
}

export function headersTests(target: () => Target) {
  const url = () => target().url;

  it.each([
    ['the console', '/'],
    ['the demo', '/demo'],
  ])('serves %s with a strict CSP, unframeable, without Referer, and nothing inline', async (_, path) => {
    const res = await fetch(`${url()}${path}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const csp = directives(res.headers.get('content-security-policy'));
    expect(csp.get('default-src')).toEqual(["'self'"]);
    expect(csp.get('frame-ancestors')).toEqual(["'none'"]);
    expect(csp.get('base-uri')).toEqual(["'none'"]);
    expect(csp.get('object-src')).toEqual(["'none'"]);
    for (const name of ['script-src', 'style-src', 'connect-src']) {
      const sources = csp.get(name) ?? csp.get('default-src')!;
      expect(sources, name).toContain("'self'");
      expect(sources.join(' '), name).not.toMatch(/unsafe-|\*|https?:|data:|blob:/);
    }
    const html = await res.text();
    // Inline code would not run under this policy: there must be none to rely on.
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
    const assets = [...html.matchAll(/<(?:script[^>]*\bsrc|link rel="stylesheet" href)="([^"]+)"/g)].map(
      (m) => m[1]!,
    );
    expect(assets.length).toBeGreaterThanOrEqual(2);
    for (const asset of assets) {
      expect(asset, 'same origin').toMatch(/^\/[^/]/);
      const loaded = await fetch(`${url()}${asset}`);
      expect(loaded.status, asset).toBe(200);
      expect(loaded.headers.get('content-type'), asset).toMatch(
        asset.endsWith('.css') ? /^text\/css/ : /^text\/javascript/,
      );
      expect(loaded.headers.get('x-content-type-options'), asset).toBe('nosniff');
      await loaded.text();
    }
  });

  it('marks errors (which quote the request) and the other text and JSON answers nosniff', async () => {
    const markup = '<script>alert(1)</script>';
    const answers: Array<[string, Response]> = [];
    const form = (body: string) =>
      fetch(`${url()}${HUB}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body,
      });
    answers.push(['400 from a bad matcher', await fetch(`${url()}${HUB}?match_${q(markup)}=x`)]);
    answers.push(['401 without a token', await form(`topic=${q(markup)}`)]);
    answers.push(['404 for an unknown path', await fetch(`${url()}/${q(markup)}`)]);
    answers.push([
      '403 for a cookie from elsewhere',
      await fetch(`${url()}${HUB}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          cookie: '__Secure-mercure_access_token=x.y.z',
          origin: 'https://evil.example',
        },
        body: 'topic=%2Fa',
      }),
    ]);
    answers.push(['the metadata', await fetch(`${url()}/.well-known/oauth-protected-resource${HUB}`)]);
    answers.push(['the health check', await fetch(`${url()}/healthz`)]);
    answers.push(['the metrics', await fetch(`${url()}/metrics`)]);
    for (const [what, res] of answers) {
      expect(res.headers.get('x-content-type-options'), what).toBe('nosniff');
      await res.text();
    }
    const bad = await publish(url(), { topic: `${markup}\u0001`, data: 'x' });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(bad.headers.get('x-content-type-options')).toBe('nosniff');
    const ok = await publish(url(), { topic: uniqueTopic(), data: 'x' });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('x-content-type-options')).toBe('nosniff');
  });
}
