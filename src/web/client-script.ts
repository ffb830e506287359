import { clientBundle, clientBundleEtag, yjsBundle, yjsBundleEtag } from './assets.generated.js';

/**
 * `GET /client.js` (and `GET /yjs.js`, the Yjs provider with Yjs): the client library as an ES module, from memory (no filesystem, so Workers serve
 * it too). Cacheable for a few minutes and revalidated by `ETag`; `Access-Control-Allow-Origin: *`
 * because module scripts load in CORS mode and an application page usually lives on another origin
 * (the file is public and carries no credentials).
 */
export function clientScript(request: Request, which: 'client' | 'yjs' = 'client'): Response {
  const [body, etag] = which === 'client' ? [clientBundle, clientBundleEtag] : [yjsBundle, yjsBundleEtag];
  const headers = {
    'content-type': 'text/javascript; charset=utf-8',
    'cache-control': 'public, max-age=300',
    etag,
    'access-control-allow-origin': '*',
    'x-content-type-options': 'nosniff',
  };
  if (matches(request.headers.get('if-none-match'), etag)) {
    return new Response(null, { status: 304, headers });
  }
  return new Response(body, { headers });
}

/** RFC 9110 §13.1.2: weak comparison, a list of tags or `*`. */
function matches(header: string | null, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((tag) => {
    const value = tag.trim();
    return value === '*' || value.replace(/^W\//, '') === etag;
  });
}
