/**
 * `npm run check:package`: packs the package as `npm publish` would (`prepack` builds it) and lints
 * the tarball, offline:
 * - publint (`--strict`: warnings fail too): `exports`, `bin`, `files`, module formats;
 * - Are the Types Wrong (`attw --profile esm-only`): every subpath resolves to JavaScript and types
 *   under `node16` (from ESM) and bundlers. The profile leaves out `node10`, which cannot read
 *   `exports` at all, and `require()` from CommonJS: ssehub is ES modules only (Node 20+).
 * `test/package/pack.test.ts` runs the same checks on the tarball it installs.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = (name: string) => join(root, 'node_modules', '.bin', name);

function run(command: string, args: string[], cwd = root): { ok: boolean; output: string } {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? String(result.error) : ''}`;
  return { ok: result.status === 0, output };
}

/** `npm pack` into `directory`; resolves with the tarball's path. @throws when packing fails. */
export function pack(directory: string): string {
  const packed = spawnSync('npm', ['pack', '--json', '--pack-destination', directory], {
    cwd: root,
    encoding: 'utf8',
  });
  if (packed.status !== 0) throw new Error(`npm pack failed:\n${packed.stdout}${packed.stderr}`);
  // prepack's own output comes first; npm prints the JSON report last.
  const json = packed.stdout.slice(packed.stdout.lastIndexOf('\n[') + 1);
  const [report] = JSON.parse(json) as Array<{ filename: string }>;
  return resolve(directory, report!.filename);
}

/** publint and attw on a tarball: each tool's output, and whether both passed. */
export function checkTarball(tarball: string): { ok: boolean; publint: string; attw: string } {
  const publint = run(bin('publint'), ['run', tarball, '--strict']);
  const attw = run(bin('attw'), [tarball, '--profile', 'esm-only', '--format', 'ascii']);
  return { ok: publint.ok && attw.ok, publint: publint.output, attw: attw.output };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const directory = mkdtempSync(join(tmpdir(), 'ssehub-pack-'));
  try {
    const result = checkTarball(pack(directory));
    console.log(result.publint.trimEnd());
    console.log(result.attw.trimEnd());
    if (!result.ok) process.exitCode = 1;
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}
