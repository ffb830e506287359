/**
 * The single-file executable (`dist/bin/ssehub-linux-x64`, Bun inside): the whole conformance suite,
 * plus what only the executable can get wrong — its command name, the header limit baked in with
 * `--compile-exec-argv`, and the assets and code bundled into it.
 */
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { binaryPath, buildBinary, startBinaryHub } from '../helpers/binary.ts';
import { conformance } from './suite.ts';
import { fixtureEnv, processTarget } from './target.ts';

beforeAll(() => {
  buildBinary();
}, 300_000);

describe('the executable', () => {
  it('is one file that runs without Node, Bun or node_modules beside it', () => {
    expect(statSync(binaryPath).mode & 0o111).not.toBe(0);
    // An empty PATH and another working directory: nothing to lean on but the file itself.
    const help = spawnSync(binaryPath, ['--help'], { encoding: 'utf8', cwd: '/', env: { PATH: '' } });
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toContain('Usage: ssehub [options]');
    const token = spawnSync(binaryPath, ['token', '--help'], {
      encoding: 'utf8',
      cwd: '/',
      env: { PATH: '' },
    });
    expect(token.stdout).toContain('Usage: ssehub token [options]');
    const bad = spawnSync(binaryPath, ['--heartbeat', 'soon'], { encoding: 'utf8', cwd: '/', env: {} });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--heartbeat must be a whole number, got "soon"');
  });

  it('answers /healthz, serves the bundled client, and reads the same settings as ssehub', async () => {
    const hub = await startBinaryHub({ ...fixtureEnv, SSEHUB_RETRY: '500' }, ['--retry', '700']);
    try {
      expect(hub.output()).toContain('ssehub (bun) listening on');
      const health = await fetch(`${hub.url}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: 'ok', broker: 'up' });
      expect(await (await fetch(`${hub.url}/client.js`)).text()).toContain('ssehub client');
      const stream = await fetch(`${hub.url}/.well-known/mercure?match=%2Fx`);
      const reader = stream.body!.getReader();
      const first = new TextDecoder().decode((await reader.read()).value);
      await reader.cancel();
      expect(first.startsWith('retry: 700\n\n')).toBe(true);
    } finally {
      await hub.stop();
    }
  });

  it('takes subscribe URLs of 40 KB (Bun allows 16 KiB of headers unless told otherwise)', async () => {
    const hub = await startBinaryHub(fixtureEnv);
    try {
      // Too many matchers for the hub, which says so itself: a 400, not Bun's bare 431.
      const matchers = Array.from(
        { length: 400 },
        (_, i) => `match=${encodeURIComponent(`/${'x'.repeat(90)}/${i}`)}`,
      );
      const res = await fetch(`${hub.url}/.well-known/mercure?${matchers.join('&')}`);
      expect(res.status).toBe(400);
      expect(await res.text()).toMatch(/matchers/);
    } finally {
      await hub.stop();
    }
  });
});

conformance(
  'binary',
  async (overrides = {}) => processTarget(await startBinaryHub({ ...fixtureEnv, ...overrides })),
  { gracefulShutdown: true },
);
