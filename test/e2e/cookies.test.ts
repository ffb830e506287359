/**
 * A real browser `EventSource` authorized by a cookie: the legacy `mercureAuthorization` cookie of
 * Symfony / API Platform apps (legacy mode), and the standard `__Secure-mercure_access_token`.
 */
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, launchChromium } from '../helpers/browser.ts';
import { hs256Token, startNodeHub } from '../helpers/hub.ts';
import { available } from '../helpers/require.ts';

const KEY = 'cookie-test-key-0123456789abcdefghij';
const HUB = '/.well-known/mercure';
const DETAIL = 'https://mercure.rocks/authorization-detail';

describe.skipIf(!available('Chromium', CHROMIUM))('cookie-authorized EventSource in Chromium', () => {
  let hub: Awaited<ReturnType<typeof startNodeHub>>;
  let browser: Browser;
  beforeAll(async () => {
    [hub, browser] = await Promise.all([
      startNodeHub({ SSEHUB_JWT_KEY: KEY, SSEHUB_LEGACY: 'true' }),
      launchChromium(),
    ]);
  });
  afterAll(async () => {
    await browser?.close();
    await hub?.stop();
  });

  const publish = async (topic: string, data: string, isPrivate: boolean) => {
    // A Symfony-style publisher token: `mercure` claim, typ JWT, no exp.
    const token = await hs256Token(KEY, { mercure: { publish: ['*'] } }, { typ: 'JWT', expiresIn: 600 });
    const body = new URLSearchParams({ topic, data, ...(isPrivate ? { private: 'on' } : {}) });
    const res = await fetch(`${hub.url}${HUB}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-www-form-urlencoded' },
      body,
    });
    expect(res.status).toBe(200);
    return res.text();
  };

  /** Opens an EventSource in a page of `context`; resolves once it is open. */
  async function listen(
    context: BrowserContext,
    query: string,
    base = hub.url,
    cookie?: { name: string; value: string },
  ) {
    const page = await context.newPage();
    await page.goto(`${base}/healthz`);
    if (cookie !== undefined) {
      await page.evaluate(
        (c) =>
          (window as unknown as { cookieStore: { set(o: object): Promise<void> } }).cookieStore.set({
            ...c,
            sameSite: 'strict',
          }),
        cookie,
      );
    }
    await page.evaluate(
      (url) =>
        new Promise<void>((resolve, reject) => {
          const received: string[] = [];
          Object.assign(window, { received });
          const source = new EventSource(url);
          source.onmessage = (e) => received.push(e.data);
          source.onopen = () => resolve();
          source.onerror = () => reject(new Error('EventSource error'));
        }),
      `${base}${HUB}?${query}`,
    );
    return {
      page,
      until: (text: string) =>
        page.waitForFunction((t) => (window as unknown as { received: string[] }).received.includes(t), text),
      received: () => page.evaluate(() => (window as unknown as { received: string[] }).received),
    };
  }

  it('delivers private updates to an EventSource carrying the legacy cookie, and not without it', async () => {
    const topic = `https://example.com/books/${crypto.randomUUID()}`;
    const reader = await hs256Token(
      KEY,
      { mercure: { subscribe: ['https://example.com/books/{id}'] } },
      { typ: 'JWT' },
    );
    const withCookie = await browser.newContext();
    await withCookie.addCookies([
      { name: 'mercureAuthorization', value: reader, url: hub.url, httpOnly: true },
    ]);
    const without = await browser.newContext();
    const query = `topic=${encodeURIComponent('https://example.com/books/{id}')}`;
    const [holder, stranger] = [await listen(withCookie, query), await listen(without, query)];
    await publish(topic, 'private for the cookie holder', true);
    await publish(topic, 'public marker', false);
    await holder.until('public marker');
    await stranger.until('public marker');
    expect(await holder.received()).toEqual(['private for the cookie holder', 'public marker']);
    expect(await stranger.received()).toEqual(['public marker']);
    await withCookie.close();
    await without.close();
  });

  it('delivers private updates to an EventSource carrying the standard cookie', async () => {
    const topic = `/rooms/${crypto.randomUUID()}`;
    // `__Secure-` cookies need the Secure flag, which Chromium allows on http only for `localhost`.
    const base = `http://localhost:${hub.port}`;
    const reader = await hs256Token(KEY, {
      iss: base,
      aud: `${base}${HUB}`,
      authorization_details: [{ type: DETAIL, actions: ['subscribe'], topics: [{ match: topic }] }],
    });
    const context = await browser.newContext();
    // Set by the page itself: the DevTools protocol refuses Secure cookies for http URLs.
    const cookie = { name: '__Secure-mercure_access_token', value: reader };
    const client = await listen(context, `match=${encodeURIComponent(topic)}`, base, cookie);
    expect(await client.page.evaluate(() => document.cookie)).toContain('__Secure-mercure_access_token=');
    await publish(topic, 'private via the standard cookie', true);
    await client.until('private via the standard cookie');
    await context.close();
  });
});
