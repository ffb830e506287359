/**
 * The browser bundle: the committed one is what `npm run build:client` builds now, it depends on
 * nothing outside `src/client/`, and the hub serves it at `/client.js` as a working ES module.
 */
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleClient, etagOf } from '../../scripts/build-client.ts';
import { clientBundle, clientBundleEtag } from '../../src/web/client-bundle.ts';
import { fixtureEnv, publisherToken } from '../conformance/target.ts';
import { startNodeHub } from '../helpers/hub.ts';

let hub: Awaited<ReturnType<typeof startNodeHub>>;
beforeAll(async () => {
  hub = await startNodeHub(fixtureEnv);
});
afterAll(async () => {
  await hub?.stop();
});

describe('client bundle', () => {
  it('is up to date with src/client (run `npm run build:client` when this fails)', async () => {
    // A boolean, not the strings: a diff of two minified bundles says nothing useful.
    const fresh = await bundleClient();
    expect(clientBundle === fresh, 'src/web/client-bundle.ts is stale: run `npm run build:client`').toBe(
      true,
    );
    expect(clientBundleEtag).toBe(etagOf(clientBundle));
  });

  it('pulls in nothing but src/client: no dependencies, no runtime-specific modules', async () => {
    const result = await build({
      entryPoints: ['src/client/index.ts'],
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'neutral',
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.length).toBeGreaterThan(0);
    expect(inputs.filter((path) => !path.startsWith('src/client/'))).toEqual([]);
  });

  it('is served at /client.js as a cacheable, cross-origin-loadable ES module', async () => {
    const response = await fetch(`${hub.url}/client.js`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('public, max-age=300');
    expect(response.headers.get('etag')).toBe(clientBundleEtag);
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await response.text()).toBe(clientBundle);

    for (const tag of [clientBundleEtag, `W/${clientBundleEtag}`, `"other", ${clientBundleEtag}`, '*']) {
      const revalidated = await fetch(`${hub.url}/client.js`, { headers: { 'if-none-match': tag } });
      expect(revalidated.status).toBe(304);
      expect(await revalidated.text()).toBe('');
    }
    const changed = await fetch(`${hub.url}/client.js`, { headers: { 'if-none-match': '"older"' } });
    expect(changed.status).toBe(200);
    const head = await fetch(`${hub.url}/client.js`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });

  it('works as served: the module from /client.js subscribes and publishes in Node', async () => {
    const source = await (await fetch(`${hub.url}/client.js`)).text();
    const client = await import(`data:text/javascript;base64,${Buffer.from(source).toString('base64')}`);
    expect(Object.keys(client).sort()).toEqual([
      'Call',
      'ClientError',
      'PerfectNegotiation',
      'Room',
      'RoomState',
      'Subscription',
      'backoffDelay',
      'createEventStreamParser',
      'isPeerId',
      'isPolite',
      'isRoomName',
      'joinRoom',
      'mergePatch',
      'parseSignal',
      'publish',
      'startCall',
      'subscribe',
    ]);
    const hubUrl = `${hub.url}/.well-known/mercure`;
    const topic = `/bundle/${crypto.randomUUID()}`;
    const subscription = client.subscribe(hubUrl, { match: topic });
    const received = new Promise<{ data: string; lastEventId: string }>((resolve) =>
      subscription.on('message', resolve),
    );
    await new Promise((resolve) => subscription.on('open', resolve));
    const id = await client.publish(
      hubUrl,
      { topics: topic, data: 'from the bundle' },
      { token: await publisherToken() },
    );
    expect(await received).toMatchObject({ data: 'from the bundle', lastEventId: id });
    subscription.close();
  });
});
