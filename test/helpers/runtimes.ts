/**
 * Spawners for the other runtimes: Bun, Deno and workerd (through `wrangler dev --local`), each from
 * its npm package in node_modules/.bin. A missing binary makes the test fail (never skip): they are
 * devDependencies, so a missing one means a broken install (e.g. install scripts not run).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, hubEnv, type Process, startNodeHub, startProcess } from './hub.ts';

/**
 * The path of a runtime binary installed by npm, checked by running `--version`; throws with a clear
 * message when it is missing or is only the placeholder left when install scripts did not run.
 */
export function runtimeBinary(name: 'bun' | 'deno' | 'wrangler'): string {
  const path = resolve('node_modules/.bin', name);
  const fix = 'run `npm ci` with install scripts allowed (package.json allowScripts)';
  if (!existsSync(path)) throw new Error(`${name} is not installed at ${path}: ${fix}`);
  // wrangler is plain JavaScript (and its --version may wait on the network): what an install can
  // leave broken is the workerd binary below it.
  const probe = name === 'wrangler' ? resolve('node_modules/.bin/workerd') : path;
  const version = spawnSync(probe, ['--version'], { encoding: 'utf8', timeout: 30_000 });
  if (version.status !== 0) {
    throw new Error(`${probe} does not run (${version.stderr || version.error}): ${fix}`);
  }
  return path;
}

/** A hub process on a free port. */
export type RuntimeHub = Process & { port: number; url: string };

/**
 * The arguments `npm run start:bun` uses. Bun's header limit is 16 KiB by default; subscribe URLs
 * carry every matcher, so allow 64 KiB (as the Node entry does) and let the hub answer its own 400.
 */
export const bunArgs = ['--max-http-header-size=65536', 'src/runtimes/bun-cli.ts'];

/**
 * The arguments `npm run start:deno` uses: V8's young generation capped as on Node (less memory per
 * connection under load); network, environment, reading node_modules, reading and writing the
 * history file (SQLite through `node:sqlite`); and request.signal aborting only for a client that
 * goes away, not after every complete response (Deno 2.x warns about the legacy behaviour once per
 * process).
 */
export const denoArgs = [
  'run',
  '--v8-flags=--max-semi-space-size=4',
  '--allow-net',
  '--allow-env',
  '--allow-read',
  '--allow-write',
  '--unstable-no-legacy-abort',
  'src/runtimes/deno-cli.ts',
];

/** Starts `src/runtimes/bun-cli.ts` with the given settings (environment, then extra flags). */
export async function startBunHub(env: Record<string, string>, args: string[] = []): Promise<RuntimeHub> {
  const port = await freePort();
  const proc = await startProcess(runtimeBinary('bun'), [...bunArgs, ...args], {
    env: hubEnv({ PORT: String(port), HOST: '127.0.0.1', ...env }),
    ready: /listening on/,
  });
  return { ...proc, port, url: `http://127.0.0.1:${port}` };
}

/** Starts `src/runtimes/deno-cli.ts` with the given settings (environment, then extra flags). */
export async function startDenoHub(env: Record<string, string>, args: string[] = []): Promise<RuntimeHub> {
  const port = await freePort();
  const proc = await startProcess(runtimeBinary('deno'), [...denoArgs, ...args], {
    env: hubEnv({ PORT: String(port), HOST: '127.0.0.1', ...env }),
    ready: /listening on/,
  });
  return { ...proc, port, url: `http://127.0.0.1:${port}` };
}

/** Environment that keeps `wrangler dev` offline and quiet. */
export const wranglerEnv: Record<string, string> = {
  CLOUDFLARE_CF_FETCH_ENABLED: 'false',
  WRANGLER_SEND_METRICS: 'false',
};

/** A temporary `--persist-to` directory: a fresh one gives the hub object empty storage. */
export async function persistDir(): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), 'ssehub-wrangler-'));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/**
 * Starts the Worker and its hub Durable Object in workerd with `wrangler dev --local`, the settings
 * passed as `--var`s, and storage in `persistTo` (the same directory again = the same object state).
 */
export async function startWorkerdHub(
  vars: Record<string, string>,
  options: { persistTo: string; port?: number },
): Promise<RuntimeHub> {
  const port = options.port ?? (await freePort());
  const args = [
    'dev',
    '--local',
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--inspector-port',
    String(await freePort()),
    '--persist-to',
    options.persistTo,
    '--show-interactive-dev-session=false',
    ...Object.entries(vars).flatMap(([name, value]) => ['--var', `${name}:${value}`]),
  ];
  const proc = await startProcess(runtimeBinary('wrangler'), args, {
    env: wranglerEnv,
    ready: /Ready on http/,
    timeoutMs: 60_000,
    // wrangler runs its CLI and two workerd processes below it: stop them all together.
    group: true,
  });
  return { ...proc, port, url: `http://127.0.0.1:${port}` };
}

/** Every runtime's spawner, for tests that check one property on all four at once. */
export const runtimes: Record<string, (env: Record<string, string>) => Promise<RuntimeHub>> = {
  node: async (env) => startNodeHub(env),
  bun: startBunHub,
  deno: startDenoHub,
  workerd: async (env) => {
    const dir = await persistDir();
    const hub = await startWorkerdHub(env, { persistTo: dir.path });
    return {
      ...hub,
      async stop(graceMs) {
        await hub.stop(graceMs);
        await dir.remove();
      },
    };
  },
};
