/**
 * Real `redis-server` processes for tests, each on a free port with its own data directory. When
 * redis-server is missing, tests skip locally but FAIL under `SSEHUB_REQUIRE_ALL=1` (CI).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, type Process, startProcess } from './hub.ts';
import { available } from './require.ts';

const REDIS_SERVER = '/usr/bin/redis-server';

/**
 * Skip a Redis suite only when redis-server is missing and CI does not require it (with
 * SSEHUB_REQUIRE_ALL=1 a missing server fails the suite instead).
 */
export const skipRedis = !available('Redis (apt-get install -y redis-server)', REDIS_SERVER);

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** Process id of the running server (for SIGSTOP/SIGCONT), undefined while stopped. */
  readonly pid: number | undefined;
  /** Stops the server (SIGTERM: with `appendonly` the data survives a later {@link start}). */
  stop(): Promise<void>;
  /** Starts it again on the same port and data directory. */
  start(): Promise<void>;
  /** Stops it for good and removes its data directory. */
  dispose(): Promise<void>;
}

/**
 * Starts `redis-server` on a free port. `appendonly` turns on the AOF with `appendfsync always`, so
 * that a restart keeps every acknowledged write.
 */
export async function startRedis(options: { appendonly?: boolean } = {}): Promise<RedisServer> {
  if (!existsSync(REDIS_SERVER)) throw new Error(`${REDIS_SERVER} is not installed`);
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'ssehub-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir];
  args.push(
    ...(options.appendonly ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
  );
  let proc: Process | undefined;
  const start = async () => {
    proc = await startProcess(REDIS_SERVER, args, { ready: /Ready to accept connections/ });
  };
  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get pid() {
      return proc?.child.pid;
    },
    async stop() {
      await proc?.stop();
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
