/**
 * jsr.json publishes the TypeScript sources with the same entry points as package.json's `exports`
 * (built JavaScript): the same subpaths, each the source of the file npm ships. `deno publish
 * --dry-run` (local: nothing is uploaded) checks the file list.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runtimeBinary } from '../helpers/runtimes.ts';

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
  version: string;
  license: string;
  exports: Record<string, { types: string; default: string }>;
};
const jsr = JSON.parse(readFileSync('jsr.json', 'utf8')) as {
  version: string;
  license: string;
  exports: Record<string, string>;
};

describe('jsr.json', () => {
  it('has exactly the subpaths of package.json exports, each the source of the built file', () => {
    expect(Object.keys(jsr.exports)).toEqual(Object.keys(pkg.exports));
    for (const [subpath, source] of Object.entries(jsr.exports)) {
      const built = pkg.exports[subpath]!;
      expect(source, subpath).toBe(built.default.replace(/^\.\/dist\//, './src/').replace(/\.js$/, '.ts'));
      expect(built.types, subpath).toBe(built.default.replace(/\.js$/, '.d.ts'));
    }
  });

  it('has the version and license of package.json', () => {
    expect(jsr.version).toBe(pkg.version);
    expect(jsr.license).toBe(pkg.license);
  });

  it('publishes the sources and the generated assets, without tests', () => {
    // --no-check: Deno cannot type-check src/runtimes/cloudflare.ts (`cloudflare:workers` resolves in
    // workerd only). --allow-slow-types: a few symbols of hub/ and sse/ lack the explicit types JSR's
    // fast check wants (`deno publish --dry-run` without the flag lists them).
    const result = spawnSync(
      runtimeBinary('deno'),
      ['publish', '--dry-run', '--config', 'jsr.json', '--allow-dirty', '--no-check', '--allow-slow-types'],
      { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 60_000 },
    );
    const output = result.stdout + result.stderr;
    expect(result.status, output).toBe(0);
    const files = [...output.matchAll(/file:\/\/\S*?\/(src\/\S+|[A-Z]+\S*\.md|LICENSE)\b/g)].map(
      (m) => m[1]!,
    );
    expect(files).toContain('src/web/assets.generated.js');
    for (const source of Object.values(jsr.exports)) expect(files).toContain(source.slice(2));
    expect(files.filter((file) => /\.test\.ts$|contract\.ts$|\/web\/(console|demo)\//.test(file))).toEqual(
      [],
    );
    expect(files).toEqual(expect.arrayContaining(['README.md', 'LICENSE', 'CHANGELOG.md']));
  });
});
