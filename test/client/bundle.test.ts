/**
 * What the hub serves to browsers, built by `npm run build:assets` into `src/web/assets.generated.js`
 * (not committed; the global setup builds it): the build is deterministic, the client bundle depends
 * on nothing outside `src/client/`, the demo loads the client from `/client.js` (never a copy), and
 * the hub serves exactly what the build produced — `/client.js` as a working ES module.
 */
import { readFileSync } from 'node:fs';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Assets,
  assetsModulePath,
  buildAssets,
  etagOf,
  moduleText,
  servedClient,
} from '../../scripts/build-assets.ts';
import { fixtureEnv, publisherToken } from '../conformance/target.ts';
import { startNodeHub } from '../helpers/hub.ts';

let hub: Awaited<ReturnType<typeof startNodeHub>>;
let built: Assets;
beforeAll(async () => {
  [hub, built] = await Promise.all([startNodeHub(fixtureEnv), buildAssets()]);
});
afterAll(async () => {
  await hub?.stop();
});

/** The client bundle, loaded in Node as an ES module. */
const load = (source: string) =>
  import(`data:text/javascript;base64,${Buffer.from(source).toString('base64')}`);

describe('the build', () => {
  it('is deterministic, and the generated module is what it builds now', async () => {
    const again = await buildAssets();
    // Booleans, not the strings: a diff of two minified bundles says nothing useful.
    expect(moduleText(again) === moduleText(built), 'two builds differ').toBe(true);
    // The global setup built it: hubs started by the tests serve the sources as they are now.
    expect(readFileSync(assetsModulePath, 'utf8') === moduleText(built), 'stale: npm run build:assets').toBe(
      true,
    );
    expect(built.clientBundleEtag).toBe(etagOf(built.clientBundle));
    expect(built.clientBundleEtag).toMatch(/^"[A-Za-z0-9_-]{22}"$/);
  });

  it('bundles a client that pulls in nothing but src/client and the rooms protocol: no dependencies, no runtime-specific modules', async () => {
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
    // The rooms wire protocol is a leaf shared with the hub (src/room-protocol/, no imports of its own).
    expect(
      inputs.filter((path) => !path.startsWith('src/client/') && !path.startsWith('src/room-protocol/')),
    ).toEqual([]);
  });

  it('bundles the Yjs provider with Yjs and its awareness protocol, and without the client', async () => {
    const result = await build({
      entryPoints: ['src/client/yjs/index.ts'],
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'neutral',
      conditions: ['browser'],
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    const packages = new Set(inputs.filter((p) => p.startsWith('node_modules/')).map((p) => p.split('/')[1]));
    expect(packages).toEqual(new Set(['yjs', 'lib0', 'y-protocols']));
    // The provider talks to the room it is given: no second copy of the client comes along.
    expect(inputs.filter((p) => p.startsWith('src/client/') && p !== 'src/client/yjs/index.ts')).toEqual([]);
    expect(built.yjsBundle).not.toContain('class PerfectNegotiation');
    const yjs = await load(built.yjsBundle);
    expect(Object.keys(yjs).sort()).toEqual(['Awareness', 'DocSync', 'Y', 'syncDoc']);
    expect(typeof yjs.Y.Doc).toBe('function');
  });

  it('makes page scripts that import only /client.js and /yjs.js, and only what they export', async () => {
    const imports = (script: string) =>
      [...script.matchAll(/^import\s*\{([^}]*)\}\s*from\s*"([^"]+)";$/gm)].map((m) => ({
        names: m[1]!.split(',').map((name) => name.trim()),
        from: m[2]!,
      }));
    expect(imports(built.consoleScript)).toEqual([]);
    const demo = imports(built.demoScript);
    expect(demo.length).toBeGreaterThan(0);
    expect(new Set(demo.map((i) => i.from))).toEqual(new Set(['/client.js', '/yjs.js']));
    // No other import or export form slipped through, and no copy of the client came along.
    expect(built.demoScript.match(/^(import|export)\b/gm)).toHaveLength(demo.length);
    expect(built.demoScript).not.toContain('class PerfectNegotiation');
    expect(built.demoScript).not.toContain('class YText');
    for (const [path, bundle] of [
      ['/client.js', built.clientBundle],
      ['/yjs.js', built.yjsBundle],
    ] as const) {
      const exported = Object.keys(await load(bundle));
      expect(exported).toEqual(
        expect.arrayContaining(demo.filter((i) => i.from === path).flatMap((i) => i.names)),
      );
    }
  });

  it('refuses a page that imports part of the client around its entry point', async () => {
    await expect(
      build({
        stdin: { contents: "import { Room } from '../../client/room.ts'; Room;", resolveDir: 'src/web/demo' },
        bundle: true,
        write: false,
        logLevel: 'silent',
        plugins: [servedClient],
      }),
    ).rejects.toThrow(/import the client from src\/client\/index\.ts only/);
  });
});

describe('what the hub serves', () => {
  it.each([
    ['/', 'consolePage', 'text/html'],
    ['/console.js', 'consoleScript', 'text/javascript'],
    ['/console.css', 'consoleStyle', 'text/css'],
    ['/demo', 'demoPage', 'text/html'],
    ['/demo.js', 'demoScript', 'text/javascript'],
    ['/demo.css', 'demoStyle', 'text/css'],
  ] as const)('%s is the built %s', async (path, name, type) => {
    const response = await fetch(`${hub.url}${path}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(`${type}; charset=utf-8`);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    if (type === 'text/html') {
      // The policy itself is checked by the conformance suite (security headers), on every runtime.
      expect(response.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect(response.headers.get('x-frame-options')).toBe('DENY');
    } else {
      expect(response.headers.get('cache-control')).toBe('no-cache');
    }
    expect((await response.text()) === built[name], `${path} is not the built ${name}`).toBe(true);
  });

  it('/yjs.js is the built Yjs bundle, served like /client.js', async () => {
    const response = await fetch(`${hub.url}/yjs.js`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(response.headers.get('etag')).toBe(built.yjsBundleEtag);
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    expect((await response.text()) === built.yjsBundle, '/yjs.js is not the built bundle').toBe(true);
    const revalidated = await fetch(`${hub.url}/yjs.js`, {
      headers: { 'if-none-match': built.yjsBundleEtag },
    });
    expect(revalidated.status).toBe(304);
  });

  it('/client.js is the built bundle: cacheable, revalidated by ETag, loadable from any origin', async () => {
    const response = await fetch(`${hub.url}/client.js`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('public, max-age=300');
    expect(response.headers.get('etag')).toBe(built.clientBundleEtag);
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect((await response.text()) === built.clientBundle, '/client.js is not the built bundle').toBe(true);

    const etag = built.clientBundleEtag;
    for (const tag of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
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

  it('/client.js works as served: the module subscribes and publishes in Node', async () => {
    const client = await load(await (await fetch(`${hub.url}/client.js`)).text());
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
