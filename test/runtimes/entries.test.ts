/**
 * The Bun and Deno entries read the same settings table as the Node CLI: environment variables,
 * flags that win over them, clear exit code 2 for a bad value or a missing key, `--dev` tokens.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { publish, q, subscribe, uniqueTopic } from '../conformance/client.ts';
import { fixtureEnv } from '../conformance/target.ts';
import { bunArgs, denoArgs, runtimeBinary, startBunHub, startDenoHub } from '../helpers/runtimes.ts';
import { eventually } from '../helpers/sse.ts';

for (const name of ['bun', 'deno'] as const) runtimeBinary(name);

const entries = { bun: startBunHub, deno: startDenoHub };
const { SSEHUB_JWT_KEY: _key, SSEHUB_ISSUERS: _issuers, ...keyless } = fixtureEnv;

describe.each(Object.entries(entries))('%s entry', (name, start) => {
  it('takes settings from the environment and lets flags win', async () => {
    const hub = await start({ ...fixtureEnv, SSEHUB_RETRY: '500' }, ['--retry', '700']);
    try {
      const sub = await subscribe(hub.url, `match=${q(uniqueTopic())}`);
      await sub.waitFor(() => sub.retries.length > 0, 'retry');
      expect(sub.text().startsWith('retry: 700\n\n')).toBe(true);
      sub.close();
    } finally {
      await hub.stop();
    }
  });

  it('exits 2 with a clear message for a bad value', async () => {
    await expect(start({ ...fixtureEnv, SSEHUB_HEARTBEAT: 'soon' })).rejects.toThrow(
      /exited \(2\)[\s\S]*SSEHUB_HEARTBEAT must be a whole number, got "soon"/,
    );
    await expect(start(fixtureEnv, ['--no-such-flag'])).rejects.toThrow(/exited \(2\)[\s\S]*unknown option/);
  });

  it('refuses to run without a key unless --dev, which prints working tokens', async () => {
    await expect(start(keyless)).rejects.toThrow(/exited \(2\)[\s\S]*no key configured/);
    const hub = await start(keyless, ['--dev']);
    try {
      expect(hub.output()).toContain(`ssehub (${name}) listening on`);
      await eventually(() => /Publish: .*\n/.test(hub.output()), 'the development tokens');
      const token = /Publisher token \(valid 1 hour\):\n\s+(\S+)/.exec(hub.output())?.[1];
      expect(token).toBeDefined();
      const res = await publish(hub.url, { topic: uniqueTopic(), data: 'x' }, { token: token! });
      expect(res.status).toBe(200);
      expect((await publish(hub.url, { topic: uniqueTopic(), data: 'x' }, { token: null })).status).toBe(401);
    } finally {
      await hub.stop();
    }
  });
});

describe('the glue modules (ssehub/bun, ssehub/deno)', () => {
  // Imported with a key and a port: a module that started the hub would listen and never exit.
  const run = (command: string, args: string[]) =>
    spawnSync(command, args, {
      encoding: 'utf8',
      timeout: 20_000,
      env: { ...process.env, ...fixtureEnv, PORT: '0' },
    });

  it.each([
    ['bun', ['src/runtimes/bun.ts']],
    ['deno', ['run', '--allow-read', '--allow-env', 'src/runtimes/deno.ts']],
  ] as const)('%s: importing the glue starts nothing', (name, args) => {
    const result = run(runtimeBinary(name), [...args]);
    expect(result.error).toBeUndefined();
    expect(result.status).toBe(0);
    expect(result.stdout + result.stderr).not.toContain('listening');
  });
});

it('npm run start:bun / start:deno run what the tests run', () => {
  const scripts = JSON.parse(readFileSync('package.json', 'utf8')).scripts as Record<string, string>;
  expect(scripts['start:bun']).toBe(`bun ${bunArgs.join(' ')} --dev`);
  expect(scripts['start:deno']).toBe(`deno ${denoArgs.join(' ')} --dev`);
});
