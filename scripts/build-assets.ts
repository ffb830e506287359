/**
 * `npm run build:assets`: builds what the hub serves to browsers into one module of strings,
 * `src/web/assets.generated.js` (git-ignored; its types are `assets.generated.d.ts`), which every
 * runtime serves from memory (Workers have no filesystem):
 * - `/client.js`: `src/client/index.ts` bundled and minified, with a strong `ETag`;
 * - `/yjs.js`: the Yjs provider (`src/client/yjs/index.ts`) with Yjs and y-protocols' awareness in
 *   one minified module (one copy of Yjs for the page), with a strong `ETag`;
 * - `/`, `/console.js`, `/console.css`: `src/web/console/`;
 * - `/demo`, `/demo.js`, `/demo.css`: `src/web/demo/`, its script importing `/client.js` like any
 *   application (the client is left out of it, never bundled twice).
 * Page scripts are bundled but not minified (people read the demo to learn the client); HTML and CSS
 * are served as written.
 *
 * The start scripts (npm `pre*` hooks), wrangler's `[build]` command and the tests' global setup run
 * it. It rebuilds every time (under a second) and rewrites the file only when the text changed —
 * atomically, so that a hub starting meanwhile never reads half of it, and so that `wrangler dev`,
 * which runs it again on every change under `src/`, settles.
 */
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import type * as Generated from '../src/web/assets.generated.js';

const root = fileURLToPath(new URL('..', import.meta.url));
export const assetsModulePath = `${root}src/web/assets.generated.js`;

/** Every export of the generated module, as `assets.generated.d.ts` declares them. */
export type Assets = { [K in keyof typeof Generated]: string };

const clientDir = `${root}src/client/`;
const clientEntry = `${clientDir}index.ts`;
const yjsEntry = `${clientDir}yjs/index.ts`;

/** The client as one minified ES module (ES2022: every current browser, Node 20, Deno, Bun, workerd). */
export async function bundleClient(entry: 'client' | 'yjs' = 'client'): Promise<string> {
  const result = await build({
    entryPoints: [entry === 'client' ? clientEntry : yjsEntry],
    absWorkingDir: root,
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    minify: true,
    legalComments: 'none',
    // lib0 (Yjs's toolkit) picks its Node or browser modules by export conditions: the browser's.
    conditions: ['browser'],
    banner: {
      js:
        entry === 'client'
          ? '/* ssehub client (MIT), built from src/client/ by npm run build:assets */'
          : '/* ssehub Yjs provider (MIT) with Yjs and y-protocols (MIT), built from src/client/yjs/ by npm run build:assets */',
    },
    logLevel: 'silent',
  });
  return only(result.outputFiles).text;
}

/**
 * Pages import the client from `src/client/index.ts` and the Yjs provider from
 * `src/client/yjs/index.ts` (so that they are type-checked against the source) and get the hub's
 * `/client.js` and `/yjs.js` at run time; any other file of `src/client/` would be a
 * second copy of part of the client, so it fails the build.
 */
export const servedClient: Plugin = {
  name: 'served-client',
  setup(b) {
    b.onResolve({ filter: /^\./ }, (args) => {
      const path = resolve(args.resolveDir, args.path);
      if (path === clientEntry) return { path: '/client.js', external: true };
      if (path === yjsEntry) return { path: '/yjs.js', external: true };
      if (path.startsWith(clientDir)) {
        return { errors: [{ text: `${args.importer}: import the client from src/client/index.ts only` }] };
      }
      return undefined;
    });
  },
};

/** A page script (`src/web/<page>/main.ts`) as one readable ES module for the browser. */
async function bundlePage(page: 'console' | 'demo'): Promise<string> {
  const result = await build({
    entryPoints: [`${root}src/web/${page}/main.ts`],
    absWorkingDir: root,
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    // Kept as written: '…' rather than '\u2026' (served as UTF-8).
    charset: 'utf8',
    banner: { js: `// ssehub ${page} page, built from src/web/${page}/ by npm run build:assets` },
    plugins: [servedClient],
    logLevel: 'silent',
  });
  return only(result.outputFiles).text;
}

function only<T>(outputs: T[] | undefined): T {
  const [output] = outputs ?? [];
  if (!output || outputs?.length !== 1) throw new Error('esbuild: expected exactly one output file');
  return output;
}

/** The strong ETag of a text: a SHA-256 prefix, so a changed file is never served from a cache as fresh. */
export function etagOf(text: string): string {
  return `"${createHash('sha256').update(text).digest('base64url').slice(0, 22)}"`;
}

const source = (path: string) => readFileSync(`${root}src/web/${path}`, 'utf8');

/** Builds every asset (nothing is written). */
export async function buildAssets(): Promise<Assets> {
  const [clientBundle, yjsBundle, consoleScript, demoScript] = await Promise.all([
    bundleClient(),
    bundleClient('yjs'),
    bundlePage('console'),
    bundlePage('demo'),
  ]);
  return {
    clientBundle,
    clientBundleEtag: etagOf(clientBundle),
    yjsBundle,
    yjsBundleEtag: etagOf(yjsBundle),
    consolePage: source('console/index.html'),
    consoleScript,
    consoleStyle: source('console/style.css'),
    demoPage: source('demo/index.html'),
    demoScript,
    demoStyle: source('demo/style.css'),
  };
}

/** The generated module's text. */
export function moduleText(assets: Assets): string {
  const exports = Object.entries(assets).map(
    ([name, value]) => `export const ${name} = ${JSON.stringify(value)};`,
  );
  return [
    '// Generated by `npm run build:assets` (scripts/build-assets.ts) from src/client/ and src/web/:',
    '// do not edit, not committed. Types and documentation: assets.generated.d.ts.',
    ...exports,
    '',
  ].join('\n');
}

/** Builds the assets and writes the module when its text changed; says which. */
export async function writeAssets(path = assetsModulePath): Promise<'written' | 'unchanged'> {
  const text = moduleText(await buildAssets());
  let current: string | undefined;
  try {
    current = readFileSync(path, 'utf8');
  } catch {
    // Not built yet.
  }
  if (current === text) return 'unchanged';
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, text);
  renameSync(temporary, path);
  return 'written';
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const outcome = await writeAssets();
  console.log(`${outcome === 'written' ? 'wrote' : 'up to date:'} ${assetsModulePath}`);
}
