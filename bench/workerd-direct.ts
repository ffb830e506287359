/**
 * The Workers entry in workerd without `wrangler dev`: the Worker bundle (built as the tests build
 * it, compatibility settings from wrangler.toml) served by one workerd process through miniflare,
 * listening on `PORT`, storage in `BENCH_TMP`. `wrangler dev` adds a proxy workerd in front and a
 * DevTools session that forwards an inspector message to its node process for every chunk of every
 * stream; this measures the runtime instead.
 *
 * @example
 * PORT=8787 BENCH_TMP=$(mktemp -d) node --import tsx bench/workerd-direct.ts
 * SSEHUB_SHARDS=4 SSEHUB_RELAYS=2 PORT=8787 BENCH_TMP=$(mktemp -d) node --import tsx bench/workerd-direct.ts
 */
import { Miniflare } from 'miniflare';
import { bundleWorker, objectClasses, wranglerCompat } from '../test/helpers/workerd-bundle.ts';

const port = Number(process.env.PORT ?? 8787);
const persistTo = process.env.BENCH_TMP;
if (!persistTo) throw new Error('BENCH_TMP (a directory for Durable Object storage) is not set');

const { code } = await bundleWorker();
const mf = new Miniflare({
  modules: [{ type: 'ESModule', path: 'worker.js', contents: code }],
  ...wranglerCompat(),
  // The settings the other runtimes run with: wrangler.toml's 3 s heartbeat is for disconnect
  // detection on Workers; the other entries keep the default 15 s.
  bindings: {
    SSEHUB_HISTORY_SIZE: '1000',
    SSEHUB_HEARTBEAT: '15',
    SSEHUB_ALLOW_ANONYMOUS_PUBLISH: 'true',
    // The topology of a sharded run (bench/servers.ts: workerd-4shards, workerd-4x2relays).
    ...Object.fromEntries(
      ['SSEHUB_SHARDS', 'SSEHUB_RELAYS', 'SSEHUB_RELAY_STREAMS'].flatMap((name) => {
        const value = process.env[name];
        return value === undefined ? [] : [[name, value]];
      }),
    ),
  },
  durableObjects: objectClasses(),
  durableObjectsPersist: persistTo,
  host: '127.0.0.1',
  port,
  // Each logged request is a loopback call from workerd to this process.
  logRequests: false,
});
console.log(`workerd listening on ${await mf.ready}`);

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    void mf.dispose().finally(() => process.exit(0));
  });
}
