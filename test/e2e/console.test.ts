/** The console page at `/`: a real browser `EventSource` receives what is published. */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, launchChromium } from '../helpers/browser.ts';
import { hs256Token, startNodeHub } from '../helpers/hub.ts';
import { available } from '../helpers/require.ts';

const KEY = 'console-test-key-0123456789abcdefghij';
const DETAIL = 'https://mercure.rocks/authorization-detail';

describe.skipIf(!available('Chromium', CHROMIUM))('console page in Chromium', () => {
  let hub: Awaited<ReturnType<typeof startNodeHub>>;
  let browser: Browser;
  let token: string;
  beforeAll(async () => {
    [hub, browser] = await Promise.all([startNodeHub({ SSEHUB_JWT_KEY: KEY }), launchChromium()]);
    // Without SSEHUB_ISSUER / SSEHUB_RESOURCE the hub's origin is the issuer and its URL the audience.
    token = await hs256Token(KEY, {
      iss: hub.url,
      aud: `${hub.url}/.well-known/mercure`,
      authorization_details: [{ type: DETAIL, actions: ['publish'], topics: [{ match: '*' }] }],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await hub?.stop();
  });

  it('receives updates published with curl-like requests and from its own form', async () => {
    const page = await browser.newPage();
    const refused: string[] = [];
    page.on('console', (message) => {
      if (message.text().includes('Content Security Policy')) refused.push(message.text());
    });
    await page.goto(`${hub.url}/#token=${token}`);
    await page.locator('#status.open').waitFor();
    const res = await fetch(`${hub.url}/.well-known/mercure`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'topic=/chat&data=hello+browser',
    });
    const id = await res.text();
    await page.locator('#log li', { hasText: 'hello browser' }).waitFor();
    expect(await page.locator('#log li .meta').first().textContent()).toContain(id);

    await page.fill('#data', 'typed in the page');
    await page.click('#publish button[type=submit]');
    await page.locator('#log li', { hasText: 'typed in the page' }).waitFor();
    expect(await page.locator('#result').textContent()).toMatch(/^published: urn:uuid:/);
    // Its Content-Security-Policy blocked nothing the page needs.
    expect(refused).toEqual([]);
    await page.close();
  });
});
