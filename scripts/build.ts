/**
 * `npm run build` (and `prepack`): the package as npm ships it, in `dist/`:
 * 1. clears what an earlier build left in `dist/` (a renamed source must not ship its old output;
 *    `dist/bin/`, the executables of `npm run build:binary`, stays);
 * 2. builds the browser assets into `src/web/assets.generated.js` (`scripts/build-assets.ts`);
 * 3. compiles `src/` with `tsc -p tsconfig.build.json`: ES modules, `.d.ts`, source maps;
 * 4. rewrites the relative `.ts` specifiers tsc leaves in declaration files to `.js`
 *    (`rewriteRelativeImportExtensions` rewrites only the JavaScript, TypeScript 5.9; microsoft/TypeScript
 *    #61037): TypeScript reads either, editors and other tools expect what sits beside them;
 * 5. copies the generated assets module and its hand-written `.d.ts` beside the compiled `web/`
 *    (tsc compiles TypeScript; it neither copies a `.js` file nor a `.d.ts`).
 *
 * tsc rather than a bundler such as tsdown: one output file per source keeps each layer's entry point
 * a file of its own, tsc already checks the project, and tsdown 0.22+ needs Node 22 where ssehub
 * supports Node 20.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { writeAssets } from './build-assets.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = `${root}dist`;

mkdirSync(dist, { recursive: true });
for (const entry of readdirSync(dist)) if (entry !== 'bin') rmSync(`${dist}/${entry}`, { recursive: true });

await writeAssets();

const tsc = spawnSync(
  process.execPath,
  [`${root}node_modules/typescript/bin/tsc`, '-p', 'tsconfig.build.json'],
  {
    cwd: root,
    stdio: 'inherit',
  },
);
if (tsc.status !== 0) process.exit(tsc.status ?? 1);

/** `from './x.ts'`, `import('./x.ts')` (relative only) in a declaration file. */
const relativeTs = /((?:from|import)\s*\(?\s*)(['"])(\.\.?\/[^'"]*)\.ts\2/g;

for (const entry of readdirSync(dist, { recursive: true, encoding: 'utf8' })) {
  if (!entry.endsWith('.d.ts')) continue;
  const path = `${dist}/${entry}`;
  const text = readFileSync(path, 'utf8');
  const rewritten = text.replace(relativeTs, '$1$2$3.js$2');
  if (rewritten !== text) writeFileSync(path, rewritten);
}

for (const file of ['assets.generated.js', 'assets.generated.d.ts']) {
  copyFileSync(`${root}src/web/${file}`, `${dist}/web/${file}`);
}
console.log(`built ${dist}`);
