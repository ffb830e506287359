/**
 * A real coturn (`turnserver` from Debian's `coturn`) on loopback for tests: shared-secret
 * authentication (`use-auth-secret`, the scheme the hub mints credentials for), UDP and TCP on a
 * free port, relay ports from a range of their own, no TLS, no CLI, no config file. When turnserver
 * is missing, tests skip locally but FAIL under `SSEHUB_REQUIRE_ALL=1` (CI).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, type Process, startProcess } from './hub.ts';
import { available } from './require.ts';

export const TURNSERVER = '/usr/bin/turnserver';

/** True when coturn is installed (see `available`). */
export const hasCoturn = (): boolean => available('coturn (apt-get install -y coturn)', TURNSERVER);

export interface Coturn {
  readonly port: number;
  /** The TURN URL for UDP, as the hub hands it out. */
  readonly url: string;
  /** Stops it (SIGKILL: allocations vanish at once, as when a relay's machine goes away). */
  kill(): Promise<void>;
  /** Starts it again on the same port with the same secret. */
  start(): Promise<void>;
  /** Stops it for good and removes its files. */
  dispose(): Promise<void>;
}

/** Starts turnserver with `secret` on a free port of 127.0.0.1. */
export async function startCoturn(secret: string): Promise<Coturn> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'ssehub-coturn-'));
  // Relay ports: a block of 200 picked by chance above the Linux ephemeral range's start, so that two
  // test files never share one.
  const minPort = 50_000 + Math.floor(Math.random() * 70) * 200;
  const args = [
    '-n',
    '--listening-ip=127.0.0.1',
    '--relay-ip=127.0.0.1',
    `--listening-port=${port}`,
    `--min-port=${minPort}`,
    `--max-port=${minPort + 199}`,
    '--use-auth-secret',
    `--static-auth-secret=${secret}`,
    '--realm=ssehub.test',
    '--fingerprint',
    '--no-tls',
    '--no-dtls',
    '--no-cli',
    '--allow-loopback-peers',
    '--no-software-attribute',
    '--log-file=stdout',
    '--simple-log',
    `--pidfile=${join(dir, 'turnserver.pid')}`,
    `--userdb=${join(dir, 'turndb')}`,
  ];
  let proc: Process | undefined;
  const start = async () => {
    // The database is opened last, once the listeners and relay threads are up.
    proc = await startProcess(TURNSERVER, args, { ready: /SQLite DB connection success/ });
  };
  await start();
  return {
    port,
    url: `turn:127.0.0.1:${port}?transport=udp`,
    async kill() {
      proc?.child.kill('SIGKILL');
      await proc?.exited;
      proc = undefined;
    },
    start,
    async dispose() {
      await proc?.stop();
      proc = undefined;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
