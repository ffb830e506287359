/**
 * Bundles the Worker entry (`src/runtimes/cloudflare.ts`, and with it the whole core) with esbuild for
 * a workerd-like platform, and runs it in workerd through miniflare: no wrangler, so it is fast and
 * shows exactly what the core needs from the platform.
 */
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { build, type Metafile } from 'esbuild';
import { Miniflare } from 'miniflare';

/** Compatibility date and flags, read from wrangler.toml so that tests run what deploys. */
export function wranglerCompat(): { compatibilityDate: string; compatibilityFlags: string[] } {
  const toml = readFileSync('wrangler.toml', 'utf8');
  const date = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(toml)?.[1];
  const flags = /^compatibility_flags\s*=\s*\[([^\]]*)\]/m.exec(toml)?.[1];
  if (!date) throw new Error('wrangler.toml has no compatibility_date');
  return {
    compatibilityDate: date,
    compatibilityFlags: [...(flags ?? '').matchAll(/"([^"]+)"/g)].map((m) => m[1]!),
  };
}

const nodeBuiltins = new Set(builtinModules);

/**
 * Bundles the Worker for workerd: platform `neutral` with the `workerd`/`worker`/`browser` export
 * conditions (what wrangler uses), only `cloudflare:*` left to the runtime. Any Node built-in in the
 * import graph fails the build.
 */
export async function bundleWorker(entry = 'src/runtimes/cloudflare.ts'): Promise<{
  code: string;
  metafile: Metafile;
}> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    conditions: ['workerd', 'worker', 'browser'],
    mainFields: ['module', 'main'],
    metafile: true,
    logLevel: 'silent',
    plugins: [
      {
        name: 'runtime-modules',
        setup(b) {
          b.onResolve({ filter: /^cloudflare:/ }, (args) => ({ path: args.path, external: true }));
          b.onResolve({ filter: /.*/ }, (args) => {
            const bare = args.path.replace(/^node:/, '');
            if (args.path.startsWith('node:') || nodeBuiltins.has(bare)) {
              return { errors: [{ text: `${args.importer} imports the Node built-in "${args.path}"` }] };
            }
            return undefined;
          });
        },
      },
    ],
  });
  return { code: result.outputFiles[0]!.text, metafile: result.metafile };
}

/** Starts the bundled Worker and its hub Durable Object in workerd, storage under `persistTo`. */
export function startMiniflare(code: string, vars: Record<string, string>, persistTo: string): Miniflare {
  return new Miniflare({
    modules: [{ type: 'ESModule', path: 'worker.js', contents: code }],
    ...wranglerCompat(),
    bindings: vars,
    durableObjects: objectClasses(),
    durableObjectsPersist: persistTo,
  });
}

/**
 * The Durable Object bindings of wrangler.toml: `HUB` (shards and rooms) and `RELAY`. The test fixture
 * (`test/fixtures/sharded-worker.ts`) names its subclasses with a `Test` prefix.
 */
export function objectClasses(prefix = ''): Record<string, { className: string; useSQLite: true }> {
  return {
    HUB: { className: `${prefix}HubObject`, useSQLite: true },
    RELAY: { className: `${prefix}RelayObject`, useSQLite: true },
  };
}

/** The sharding fixture: the Worker with a test door that resets one object (see the fixture). */
export const SHARDED_FIXTURE = 'test/fixtures/sharded-worker.ts';

/**
 * Starts the sharding fixture in one workerd process listening on a free local port (what the
 * black-box suites need: real HTTP), storage under `persistTo`.
 */
export async function startShardedWorkerd(
  code: string,
  vars: Record<string, string>,
  persistTo: string,
): Promise<{ url: string; mf: Miniflare; stop(): Promise<void> }> {
  const mf = new Miniflare({
    modules: [{ type: 'ESModule', path: 'worker.js', contents: code }],
    ...wranglerCompat(),
    bindings: vars,
    durableObjects: objectClasses('Test'),
    durableObjectsPersist: persistTo,
    host: '127.0.0.1',
    port: 0,
    // Each logged request is a loopback call from workerd to this process.
    logRequests: false,
  });
  const url = (await mf.ready).origin;
  return { url, mf, stop: () => mf.dispose() };
}
