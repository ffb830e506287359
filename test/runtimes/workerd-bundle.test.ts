/**
 * The core bundles for workerd (no Node built-ins) and, loaded in workerd, answers a publish and a
 * subscribe; its history lives in Durable Object storage, bounded by the history size.
 */

import { createParser, type EventSourceMessage } from 'eventsource-parser';
import type { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureEnv, publisherToken } from '../conformance/target.ts';
import { persistDir } from '../helpers/runtimes.ts';
import { bundleWorker, startMiniflare } from '../helpers/workerd-bundle.ts';

const BASE = 'http://hub.test';
const HUB = `${BASE}/.well-known/mercure`;

async function publish(mf: Miniflare, fields: Record<string, string>): Promise<string> {
  const res = await mf.dispatchFetch(HUB, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Bearer ${await publisherToken()}`,
    },
    body: new URLSearchParams(fields).toString(),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`publish: ${res.status} ${text}`);
  return text;
}

/** Subscribes through miniflare and collects events until `count` have arrived. */
async function subscribe(mf: Miniflare, query: string, headers: Record<string, string> = {}) {
  const res = await mf.dispatchFetch(`${HUB}?${query}`, { headers });
  const events: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (e) => events.push(e) });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  return {
    res,
    events,
    async waitForEvents(count: number) {
      const deadline = Date.now() + 10_000;
      while (events.length < count) {
        if (Date.now() > deadline) throw new Error(`only ${events.length} of ${count} events arrived`);
        const { done, value } = await reader.read();
        if (done) throw new Error('stream ended');
        parser.feed(decoder.decode(value, { stream: true }));
      }
      return events.slice(0, count);
    },
    close: () => reader.cancel(),
  };
}

describe('the core bundled for workerd', () => {
  let bundle: Awaited<ReturnType<typeof bundleWorker>>;
  beforeAll(async () => {
    bundle = await bundleWorker();
  });

  it('bundles without Node built-ins; only cloudflare:* is left to the runtime', () => {
    const imports = Object.values(bundle.metafile.outputs).flatMap((o) => o.imports.map((i) => i.path));
    expect(imports.every((path) => path.startsWith('cloudflare:'))).toBe(true);
    const sources = Object.keys(bundle.metafile.inputs);
    expect(sources).toContain('src/hub/app.ts');
    expect(sources).toContain('src/brokers/durable-object.ts');
  });

  it('refuses a module graph that reaches for a Node built-in', async () => {
    await expect(bundleWorker('test/fixtures/uses-node.ts')).rejects.toThrow(/Node built-in "node:crypto"/);
  });

  describe('in workerd (miniflare)', () => {
    let mf: Miniflare;
    let dir: Awaited<ReturnType<typeof persistDir>>;
    beforeAll(async () => {
      dir = await persistDir();
      mf = startMiniflare(bundle.code, { ...fixtureEnv, SSEHUB_HISTORY_SIZE: '3' }, dir.path);
      await mf.ready;
    });
    afterAll(async () => {
      await mf?.dispose();
      await dir?.remove();
    });

    it('answers a subscribe and delivers a publish to it', async () => {
      const sub = await subscribe(mf, 'match=%2Fbooks%2F1');
      expect(sub.res.status).toBe(200);
      expect(sub.res.headers.get('content-type')).toBe('text/event-stream');
      const id = await publish(mf, { topic: '/books/1', data: 'hello from workerd' });
      const [event] = await sub.waitForEvents(1);
      expect(event).toMatchObject({ id, data: 'hello from workerd' });
      await sub.close();
    });

    it('keeps the newest history-size updates in storage, across a restart of the object', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push(await publish(mf, { topic: '/ring', data: String(i) }));
      await mf.dispose();
      // A larger history size after the restart must not bring back what storage already pruned.
      mf = startMiniflare(bundle.code, { ...fixtureEnv, SSEHUB_HISTORY_SIZE: '10' }, dir.path);
      const sub = await subscribe(mf, 'match=%2Fring&last_event_id=earliest');
      expect((await sub.waitForEvents(3)).map((e) => e.id)).toEqual(ids.slice(2));
      await sub.close();
    });
  });

  describe('settings from vars and secrets', () => {
    async function answers(
      vars: Record<string, string>,
      url: string,
      init: { method?: string; headers?: Record<string, string>; body?: string } = {},
    ): Promise<[number, string]> {
      const dir = await persistDir();
      const mf = startMiniflare(bundle.code, vars, dir.path);
      try {
        const res = await mf.dispatchFetch(url, init);
        return [res.status, await res.text()];
      } finally {
        await mf.dispose();
        await dir.remove();
      }
    }
    const { SSEHUB_JWT_KEY: _key, SSEHUB_ISSUERS: _issuers, ...keyless } = fixtureEnv;

    it('answers every request with the configuration error for a bad value (500)', async () => {
      const [status, text] = await answers({ ...fixtureEnv, SSEHUB_HEARTBEAT: 'soon' }, `${BASE}/healthz`);
      expect(status).toBe(500);
      expect(text).toContain('SSEHUB_HEARTBEAT must be a whole number, got "soon"');
    });

    it('says how to set the key when there is none (500)', async () => {
      const [status, text] = await answers(keyless, `${BASE}/healthz`);
      expect(status).toBe(500);
      expect(text).toContain('wrangler secret put SSEHUB_JWT_KEY');
    });

    it('runs with a generated key in development mode, still refusing anonymous publishers', async () => {
      const vars = { ...keyless, SSEHUB_DEV: 'true' };
      expect(await answers(vars, `${BASE}/healthz`)).toEqual([200, '{"status":"ok","broker":"up"}']);
      const post = {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'topic=%2Fa&data=x',
      };
      expect((await answers(vars, HUB, post))[0]).toBe(401);
    });
  });
});
