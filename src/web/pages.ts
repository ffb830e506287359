/**
 * The browser pages and what they load, served from memory on every runtime (Workers have no
 * filesystem): the console at `/`, the demo at `/demo`, their stylesheets and scripts, and the client
 * at `/client.js`. Their sources are `src/web/console/`, `src/web/demo/` and `src/client/`;
 * `npm run build:assets` builds them into `assets.generated.js` (not committed).
 *
 * The pages carry a strict Content-Security-Policy. Scripts, styles and connections come from the
 * hub's own origin only; nothing is inline — each page's script and stylesheet is a route of its own,
 * so the policy needs neither 'unsafe-inline' nor hashes kept in step with the code — so an injected
 * `<script>` or `onerror=` never runs. No plugins, no `<base>`, never framed (`frame-ancestors
 * 'none'`, and `X-Frame-Options: DENY` for browsers that predate it: no clickjacking of the publish
 * form or of the camera), and no `Referer` (the demo's URL names the room).
 */
import type { Hono } from 'hono';
import {
  consolePage,
  consoleScript,
  consoleStyle,
  demoPage,
  demoScript,
  demoStyle,
} from './assets.generated.js';
import { clientScript } from './client-script.ts';

export interface PagesOptions {
  /**
   * The hub's public origin (`--public-url`), when set: a rooms join answer sends the demo there, so
   * its connections may go there too.
   */
  publicOrigin?: string;
}

/** A Content-Security-Policy header value from its directives. */
const policy = (directives: Record<string, string>): string =>
  Object.entries(directives)
    .map(([name, value]) => `${name} ${value}`)
    .join('; ');

/** Adds the pages and their assets to `app`. */
export function servePages(app: Hono, options: PagesOptions = {}): void {
  const self = "'self'";
  const common = {
    'default-src': self,
    'script-src': self,
    'style-src': self,
    // The demo's favicon is `data:,` (no request for one).
    'img-src': `${self} data:`,
    'connect-src': options.publicOrigin ? `${self} ${options.publicOrigin}` : self,
    'object-src': "'none'",
    'base-uri': "'none'",
    'form-action': self,
    'frame-ancestors': "'none'",
  };
  const consolePolicy = policy(common);
  // Camera and microphone streams play in <video> elements.
  const demoPolicy = policy({ ...common, 'media-src': `${self} blob: mediastream:` });

  const page = (html: string, csp: string) => () =>
    new Response(html, {
      headers: {
        'content-type': 'text/html; charset=utf-8',
        'content-security-policy': csp,
        'x-frame-options': 'DENY',
        'referrer-policy': 'no-referrer',
        'x-content-type-options': 'nosniff',
      },
    });
  const asset = (body: string, type: string) => () =>
    new Response(body, {
      headers: {
        'content-type': `${type}; charset=utf-8`,
        // Not kept past a page load: a page and its script change together (they are small).
        'cache-control': 'no-cache',
        'x-content-type-options': 'nosniff',
      },
    });

  app.get('/', page(consolePage, consolePolicy));
  app.get('/console.css', asset(consoleStyle, 'text/css'));
  app.get('/console.js', asset(consoleScript, 'text/javascript'));
  app.get('/demo', page(demoPage, demoPolicy));
  app.get('/demo.css', asset(demoStyle, 'text/css'));
  app.get('/demo.js', asset(demoScript, 'text/javascript'));
  app.get('/client.js', (c) => clientScript(c.req.raw));
  app.get('/yjs.js', (c) => clientScript(c.req.raw, 'yjs'));
}
