/**
 * The package as a user gets it: `npm pack` (which builds it), the tarball installed into an empty
 * project with nothing but its declared dependencies, then used the way the README says — with plain
 * `node` (no tsx anywhere), from a Worker bundled by wrangler, from Deno through `npm:` and from Bun.
 * Also publint and Are the Types Wrong on that tarball (what `npm run check:package` runs).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkTarball, pack } from '../../scripts/check-package.ts';
import { HUB, publishOk, q, subscribe, uniqueTopic } from '../conformance/client.ts';
import { fixtureEnv, publisherToken } from '../conformance/target.ts';
import { freePort, startProcess } from '../helpers/hub.ts';
import { persistDir, runtimeBinary, wranglerEnv } from '../helpers/runtimes.ts';
import { startMiniflare } from '../helpers/workerd-bundle.ts';

const root = process.cwd();
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
  dependencies: Record<string, string>;
  exports: Record<string, { types: string; default: string }>;
  bin: Record<string, string>;
};
const subpaths = Object.keys(pkg.exports).map((key) => (key === '.' ? 'ssehub' : `ssehub/${key.slice(2)}`));

let work: string;
let tarball: string;
/** Every path in the tarball, without the leading `package/`. */
let files: string[];
/** The temporary project the tarball is installed into. */
let app: string;

/** Runs a command to its end; `NODE_OPTIONS` cleared so that no loader (tsx) reaches the child. */
function run(
  command: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; timeout?: number } = {},
) {
  const result = spawnSync(command, args, {
    cwd: options.cwd ?? app,
    encoding: 'utf8',
    timeout: options.timeout ?? 120_000,
    env: { ...process.env, NODE_OPTIONS: '', NO_COLOR: '1', ...options.env },
  });
  return {
    status: result.status,
    output: `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ?? ''}`,
  };
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'ssehub-package-'));
  tarball = pack(work);
  files = run('tar', ['-tzf', tarball], { cwd: work })
    .output.split('\n')
    .filter(Boolean)
    .map((path) => path.replace(/^package\//, ''));
  app = join(work, 'app');
  mkdirSync(app);
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
  );
  // Without install scripts: the only production dependency that has one is better-sqlite3, whose
  // script downloads a prebuilt binary (which this network refuses) or compiles SQLite (minutes). The
  // repository's own build of the same version takes its place: same machine, same Node.
  const installed = run('npm', [
    'install',
    tarball,
    '--prefer-offline',
    '--no-audit',
    '--no-fund',
    '--ignore-scripts',
  ]);
  if (installed.status !== 0) throw new Error(`npm install failed:\n${installed.output}`);
  const version = (dir: string) =>
    (
      JSON.parse(readFileSync(join(dir, 'node_modules/better-sqlite3/package.json'), 'utf8')) as {
        version: string;
      }
    ).version;
  if (version(app) === version('.')) {
    cpSync('node_modules/better-sqlite3/build', join(app, 'node_modules/better-sqlite3/build'), {
      recursive: true,
    });
  } else {
    const rebuilt = run('npm', ['rebuild', 'better-sqlite3'], { timeout: 280_000 });
    if (rebuilt.status !== 0) throw new Error(`better-sqlite3 did not build:\n${rebuilt.output}`);
  }
}, 300_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the tarball', () => {
  it('holds the build, README, LICENSE and CHANGELOG; no tests, bench, sources or executables', () => {
    const loose = files.filter((path) => !path.startsWith('dist/'));
    expect(loose.sort()).toEqual(['CHANGELOG.md', 'LICENSE', 'README.md', 'package.json']);
    expect(files.filter((path) => /(^|\/)(test|tests|bench)\/|\.test\.|(^|\/)bin\//.test(path))).toEqual([]);
    expect(files.filter((path) => /\.ts$/.test(path) && !path.endsWith('.d.ts'))).toEqual([]);
    // Every export and the command, with their types and maps; the generated assets beside web/.
    for (const { types, default: js } of Object.values(pkg.exports)) {
      expect(files).toContain(types.slice(2));
      expect(files).toContain(js.slice(2));
      expect(files).toContain(`${js.slice(2)}.map`);
    }
    expect(files).toContain(pkg.bin.ssehub!);
    expect(files).toContain('dist/web/assets.generated.js');
    expect(files).toContain('dist/web/assets.generated.d.ts');
  });

  it('has declarations that import .js files, as they sit beside them', () => {
    const declarations = files.filter((path) => path.endsWith('.d.ts'));
    const wrong = declarations.filter((path) =>
      /(?:from|import)\s*\(?\s*['"]\.\.?\/[^'"]*\.ts['"]/.test(
        readFileSync(join(app, 'node_modules/ssehub', path), 'utf8'),
      ),
    );
    expect(wrong).toEqual([]);
  });

  it('passes publint and Are the Types Wrong', () => {
    const result = checkTarball(tarball);
    expect(result.ok, `${result.publint}\n${result.attw}`).toBe(true);
    expect(result.publint).toContain('All good!');
  });

  it('installs with only its declared dependencies: no tsx, esbuild or TypeScript', () => {
    const top = readdirSync(join(app, 'node_modules')).filter((name) => !name.startsWith('.'));
    expect(top).toEqual(
      expect.arrayContaining([
        'ssehub',
        'hono',
        'jose',
        'ioredis',
        'urlpattern-polyfill',
        'yjs',
        'y-protocols',
      ]),
    );
    for (const tool of ['tsx', 'esbuild', 'typescript', 'wrangler']) expect(top).not.toContain(tool);
    const installed = JSON.parse(readFileSync(join(app, 'node_modules/ssehub/package.json'), 'utf8'));
    expect(installed.dependencies).toEqual(pkg.dependencies);
  });
});

describe('with plain node', () => {
  it('imports every entry point; the glue of Bun and Deno starts nothing; ssehub/cloudflare is for workerd', () => {
    const script = `
      const out = {};
      for (const path of ${JSON.stringify(subpaths.filter((path) => path !== 'ssehub/cloudflare'))}) {
        out[path] = Object.keys(await import(path)).sort();
      }
      try { await import('ssehub/cloudflare'); out.cloudflare = 'loaded'; } catch (error) { out.cloudflare = error.code; }
      console.log(JSON.stringify(out));`;
    // The process must end by itself: an entry that started a server would keep it alive.
    const result = run('node', ['--input-type=module', '-e', script], { env: fixtureEnv });
    expect(result.status, result.output).toBe(0);
    const exported = JSON.parse(result.output) as Record<string, string[]>;
    expect(exported.ssehub).toEqual(
      expect.arrayContaining(['createApp', 'parseConfig', 'ConfigError', 'helpText']),
    );
    expect(exported['ssehub/sse']).toEqual(
      expect.arrayContaining(['EventStream', 'Heartbeat', 'encodeEvent']),
    );
    expect(exported['ssehub/hub']).toEqual(expect.arrayContaining(['createHub', 'HUB_PATH', 'mintToken']));
    expect(exported['ssehub/brokers']).toEqual(
      expect.arrayContaining(['createMemoryBroker', 'createSqliteBroker', 'durableObjectSql']),
    );
    expect(exported['ssehub/redis']).toEqual([
      'createRedisBroker',
      'createRedisOperations',
      'createRedisRegistry',
    ]);
    expect(exported['ssehub/client']).toEqual(expect.arrayContaining(['subscribe', 'publish', 'joinRoom']));
    // The Yjs provider, which re-exports the Yjs it uses: an application takes `Y` from it.
    expect(exported['ssehub/client/yjs']).toEqual(['Awareness', 'DocSync', 'Y', 'syncDoc']);
    expect(exported['ssehub/node']).toEqual([
      'loopDelayMonitor',
      'nodeGlue',
      'openBetterSqlite',
      'runHub',
      'serveNode',
    ]);
    expect(exported['ssehub/bun']).toEqual(['bunGlue', 'openBunSqlite', 'runHub', 'serveBun']);
    expect(exported['ssehub/deno']).toEqual(['denoGlue', 'openNodeSqlite', 'runHub', 'serveDeno']);
    expect(exported.cloudflare).toBe('ERR_UNSUPPORTED_ESM_URL_SCHEME');
  });

  it('type-checks a TypeScript consumer of every entry point (nodenext, strict)', () => {
    writeFileSync(
      join(app, 'consumer.ts'),
      `
      import type { Hono } from 'hono';
      import { createApp, parseConfig } from 'ssehub';
      import { EventStream, Heartbeat } from 'ssehub/sse';
      import { HUB_PATH } from 'ssehub/hub';
      import { type Broker, createMemoryBroker } from 'ssehub/brokers';
      import { createRedisBroker } from 'ssehub/redis';
      import { subscribe } from 'ssehub/client';
      import { nodeGlue, runHub, serveNode } from 'ssehub/node';
      import { bunGlue } from 'ssehub/bun';
      import { denoGlue } from 'ssehub/deno';
      import type { HubObject } from 'ssehub/cloudflare';

      const parsed = parseConfig([], {});
      if (!parsed.help) {
        const app: Hono = createApp({ config: parsed.config }).app;
        void serveNode(app.fetch, { port: parsed.config.port });
      }
      // @ts-expect-error the config is required (an export typed as any would make this line pass)
      createApp({});
      const broker: Broker = createMemoryBroker({ historySize: 10 });
      const path: string = HUB_PATH;
      const stream = new EventStream({ heartbeat: new Heartbeat(15_000) });
      const code: Promise<number> = runHub([], {}, nodeGlue());
      export { broker, bunGlue, code, createRedisBroker, denoGlue, path, stream, subscribe };
      export type { HubObject };
      `,
    );
    const result = run(process.execPath, [
      join(root, 'node_modules/typescript/bin/tsc'),
      '--noEmit',
      '--strict',
      '--module',
      'nodenext',
      '--moduleResolution',
      'nodenext',
      '--target',
      'es2022',
      '--lib',
      'es2022,dom',
      '--typeRoots',
      join(root, 'node_modules/@types'),
      '--types',
      'node',
      '--skipLibCheck',
      'consumer.ts',
    ]);
    expect(result.output).toBe('');
    expect(result.status).toBe(0);
  });

  it('npx ssehub --help prints the settings', () => {
    const result = run('npx', ['--no-install', 'ssehub', '--help']);
    expect(result.status, result.output).toBe(0);
    expect(result.output).toContain('Usage: ssehub [options]');
    expect(result.output).toContain('SSEHUB_JWT_KEY');
  });

  it('npx ssehub runs the hub: a subscriber receives what is published', async () => {
    const port = await freePort();
    const hub = await startProcess('npx', ['--no-install', 'ssehub'], {
      cwd: app,
      env: { ...fixtureEnv, PORT: String(port), HOST: '127.0.0.1', NODE_OPTIONS: '' },
      ready: /listening on/,
      group: true,
    });
    const url = `http://127.0.0.1:${port}`;
    try {
      expect(hub.output()).toContain('ssehub (node) listening on');
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      const topic = uniqueTopic('package');
      const sub = await subscribe(url, `match=${q(topic)}`);
      const id = await publishOk(url, { topic, data: 'from the tarball' });
      expect((await sub.waitForEvents(1))[0]).toMatchObject({ id, data: 'from the tarball' });
      sub.close();
      // The console and the client bundle come from the generated assets module in dist/.
      expect(await (await fetch(`${url}/client.js`)).text()).toContain('ssehub client');
    } finally {
      await hub.stop();
    }
  });

  it('loads ioredis only when Redis is configured', async () => {
    const ioredis = join(app, 'node_modules/ioredis');
    renameSync(ioredis, `${ioredis}.away`);
    try {
      const port = await freePort();
      const hub = await startProcess('node', ['node_modules/.bin/ssehub', '--dev'], {
        cwd: app,
        env: { PORT: String(port), HOST: '127.0.0.1', NODE_OPTIONS: '' },
        ready: /listening on/,
      });
      try {
        expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      } finally {
        await hub.stop();
      }
      // The same command with Redis configured reaches for the client (and so finds it missing).
      const redis = run('node', ['node_modules/.bin/ssehub', '--dev'], {
        env: { PORT: '0', SSEHUB_REDIS_URL: 'redis://127.0.0.1:1' },
      });
      expect(redis.status).not.toBe(0);
      expect(redis.output).toMatch(/Cannot find package 'ioredis'/);
    } finally {
      renameSync(`${ioredis}.away`, ioredis);
    }
  });
});

describe('in a Worker of its own (wrangler, then workerd)', () => {
  let mf: Miniflare | undefined;
  let dir: Awaited<ReturnType<typeof persistDir>> | undefined;
  afterAll(async () => {
    await mf?.dispose();
    await dir?.remove();
  });

  it('bundles with wrangler from ssehub/cloudflare and serves the hub beside its own routes', async () => {
    writeFileSync(
      join(app, 'worker.js'),
      `import hub, { HubObject } from 'ssehub/cloudflare';
      export { HubObject };
      export default {
        fetch(request, env, ctx) {
          if (new URL(request.url).pathname === '/app') return new Response('my app');
          return hub.fetch(request, env, ctx);
        },
      };
      `,
    );
    const compat = /^compatibility_(date|flags)\s*=.*$/gm;
    writeFileSync(
      join(app, 'wrangler.toml'),
      [
        'name = "consumer"',
        'main = "worker.js"',
        ...(readFileSync(join(root, 'wrangler.toml'), 'utf8').match(compat) ?? []),
        '[[durable_objects.bindings]]',
        'name = "HUB"',
        'class_name = "HubObject"',
        '[[migrations]]',
        'tag = "v1"',
        'new_sqlite_classes = ["HubObject"]',
        '',
      ].join('\n'),
    );
    const built = run(runtimeBinary('wrangler'), ['deploy', '--dry-run', '--outdir', 'out'], {
      env: wranglerEnv,
    });
    expect(built.status, built.output).toBe(0);
    const code = readFileSync(join(app, 'out/worker.js'), 'utf8');
    expect(code).not.toMatch(/from\s*["']node:/);

    dir = await persistDir();
    mf = startMiniflare(code, fixtureEnv, dir.path);
    const base = 'http://hub.test';
    expect(await (await mf.dispatchFetch(`${base}/app`)).text()).toBe('my app');
    expect((await mf.dispatchFetch(`${base}/healthz`)).status).toBe(200);
    const topic = uniqueTopic('worker');
    const published = await mf.dispatchFetch(`${base}${HUB}`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${await publisherToken()}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ topic, data: 'from the worker' }).toString(),
    });
    expect(published.status).toBe(200);
    const id = await published.text();
    const sub = await mf.dispatchFetch(`${base}${HUB}?match=${q(topic)}&last_event_id=earliest`);
    const reader = sub.body!.getReader();
    let text = '';
    const decoder = new TextDecoder();
    while (!text.includes('data: from the worker\n')) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    await reader.cancel();
    expect(text).toContain(`id: ${id}\n`);
    expect(text).toContain('data: from the worker\n');
  });
});

describe('from Deno and Bun', () => {
  /** Starts the hub with a runtime's glue, imported from the installed package; checks it answers. */
  async function runsHub(command: string, args: string[], script: string, source: string) {
    writeFileSync(join(app, script), source);
    const port = await freePort();
    const hub = await startProcess(command, [...args, script], {
      cwd: app,
      env: { ...fixtureEnv, PORT: String(port), HOST: '127.0.0.1' },
      ready: /listening on/,
    });
    const url = `http://127.0.0.1:${port}`;
    try {
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      const topic = uniqueTopic('runtime');
      const sub = await subscribe(url, `match=${q(topic)}`);
      const id = await publishOk(url, { topic, data: 'hello' });
      expect((await sub.waitForEvents(1))[0]).toMatchObject({ id, data: 'hello' });
      sub.close();
      return hub.output();
    } finally {
      await hub.stop();
    }
  }

  it('Deno imports it through npm: (node_modules of the project) and runs the hub with ssehub/deno', async () => {
    const output = await runsHub(
      runtimeBinary('deno'),
      [
        'run',
        '--node-modules-dir=manual',
        '--allow-net',
        '--allow-env',
        '--allow-read',
        '--allow-write',
        '--unstable-no-legacy-abort',
      ],
      'main-deno.ts',
      `import { createApp } from 'npm:ssehub';
      import { denoGlue, runHub } from 'npm:ssehub/deno';
      if (typeof createApp !== 'function') throw new Error('no createApp');
      Deno.exit(await runHub(Deno.args, Deno.env.toObject(), denoGlue()));
      `,
    );
    expect(output).toContain('ssehub (deno) listening on');
  });

  it('Bun runs the hub with ssehub/bun', async () => {
    const output = await runsHub(
      runtimeBinary('bun'),
      ['--max-http-header-size=65536'],
      'main-bun.ts',
      `import { bunGlue, runHub } from 'ssehub/bun';
      process.exit(await runHub(process.argv.slice(2), process.env, bunGlue()));
      `,
    );
    expect(output).toContain('ssehub (bun) listening on');
  });
});

it('resolves the installed package, not the sources of this checkout', () => {
  const result = run('node', ['--input-type=module', '-e', "console.log(import.meta.resolve('ssehub'))"]);
  expect(result.output.trim()).toBe(`file://${resolve(app, 'node_modules/ssehub/dist/index.js')}`);
});
