/**
 * The subscribe micro-harness: server CPU per new token-carrying subscription, measured round after
 * round on one hub process — the tool behind the A/B figures and profiles of docs/performance.md
 * (*Subscribe*). Scenario (v) of `npm run bench` measures one storm on a fresh process and one on a
 * warm one; this one repeats the storm so that a change can be told from noise, and can compare
 * builds side by side.
 *
 * Each round opens N raw keep-alive connections at once, each sending one `GET` with a token of its
 * own (a `sub` each, bench/tokens.ts) and reading its response head; the hub's CPU (utime + stime of
 * its process, /proc) from the first connect until 500 ms after the last head, divided by N, is the
 * round's figure. Then every connection closes and the hub rests 1.5 s (that teardown is not
 * counted). Round 1 finds the code of a new subscription not yet optimized by V8 (about 1.6× the
 * later rounds); the median of rounds 3 and later is reported.
 *
 * With `--history=H`, H updates are published on the topic before the first round, and every
 * connection resumes after the first of them (`Last-Event-ID`): each new subscription then replays
 * H - 1 updates from the history, as in a reconnect storm.
 *
 * With several builds (`--dist=a,b`), runs alternate between them (a, b, a, b, …), each on a fresh
 * hub process: machine noise then falls on both alike. The hub runs as `npm start` runs it
 * (`node --max-semi-space-size=2 <dist>/runtimes/cli.js`), pinned to core 1; run this pinned to the
 * other core.
 *
 * @example
 * npm run build && taskset -c 0 npm run bench:connect -- 10000 --rounds=7
 * # A/B: copy dist/ aside before a change, inside the repository (a build finds its dependencies in
 * # node_modules from where it lies; bench/logs/ is not committed), build again, then
 * mkdir -p bench/logs && cp -r dist bench/logs/before
 * taskset -c 0 npm run bench:connect -- 10000 --dist=bench/logs/before,dist --runs=3
 * # a CPU profile of the hub (written when it exits) for DevTools or a script
 * taskset -c 0 npm run bench:connect -- 10000 --rounds=5 --node=--cpu-prof,--cpu-prof-dir=prof
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { freePort } from './launch.ts';
import { cpuSeconds } from './proc.ts';
import { freshKey, TokenMint } from './tokens.ts';

const USAGE = `Usage: npm run bench:connect -- [N] [options]
  N                  connections per round (default 10000)
  --rounds=R         rounds per run (default 7; the median of rounds 3 and later is reported)
  --dist=a[,b…]      builds to run (default dist); several alternate, run after run. A copy of
                     dist/ must lie inside the repository (e.g. bench/logs/before) to find node_modules
  --runs=K           runs per build (default 1)
  --history=H        publish H updates first; every connection resumes after the first (replays H-1)
  --node=f1[,f2…]    extra Node flags for the hub (e.g. --cpu-prof,--cpu-prof-dir=prof)`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    rounds: { type: 'string', default: '7' },
    dist: { type: 'string', default: 'dist' },
    runs: { type: 'string', default: '1' },
    history: { type: 'string', default: '0' },
    node: { type: 'string', default: '' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const count = Number(positionals[0] ?? 10000);
const rounds = Number(values.rounds);
const runs = Number(values.runs);
const builds = values.dist.split(',').filter(Boolean);
const nodeFlags = values.node.split(',').filter(Boolean);
const history = Number(values.history);
if (!Number.isInteger(count) || count < 1 || !Number.isInteger(rounds) || rounds < 1) {
  console.error(`bench:connect: N and --rounds must be positive integers\n${USAGE}`);
  process.exit(2);
}
if (!Number.isInteger(runs) || runs < 1) {
  console.error(`bench:connect: --runs must be a positive integer\n${USAGE}`);
  process.exit(2);
}
if (!Number.isInteger(history) || history < 0) {
  console.error(`bench:connect: --history must be a whole number\n${USAGE}`);
  process.exit(2);
}
for (const dist of builds) {
  if (!existsSync(`${dist}/runtimes/cli.js`)) {
    console.error(`bench:connect: no ${dist}/runtimes/cli.js (npm run build first)`);
    process.exit(2);
  }
}

const TOPIC = 'https://example.com/bench';
const PATH = `/.well-known/mercure?match=${encodeURIComponent(TOPIC)}`;

/** One hub process on a free port, with a secret of its own. */
async function startHub(
  dist: string,
): Promise<{ child: ChildProcess; port: number; key: string; dir: string }> {
  const port = await freePort();
  const key = freshKey();
  // Its SQLite history in a directory of its own, removed after the run.
  const dir = mkdtempSync(join(tmpdir(), 'ssehub-connect-'));
  const child = spawn(
    'taskset',
    ['-c', '1', 'node', '--max-semi-space-size=2', ...nodeFlags, `${dist}/runtimes/cli.js`],
    {
      env: {
        ...process.env,
        PORT: String(port),
        HOST: '127.0.0.1',
        SSEHUB_JWT_KEY: key,
        SSEHUB_HISTORY_FILE: join(dir, 'ssehub.db'),
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  for (let tries = 0; ; tries++) {
    if (child.exitCode !== null) throw new Error(`the hub of ${dist} exited with ${child.exitCode}`);
    const up = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (up) return { child, port, key, dir };
    if (tries > 200) throw new Error(`the hub of ${dist} did not listen within 10 s`);
    await sleep(50);
  }
}

/** Publishes `n` updates on the topic; returns the id of the first (undefined for none). */
async function publishHistory(port: number, mint: TokenMint, n: number): Promise<string | undefined> {
  let first: string | undefined;
  for (let i = 0; i < n; i++) {
    const response = await fetch(`http://127.0.0.1:${port}/.well-known/mercure`, {
      method: 'POST',
      headers: { authorization: `Bearer ${mint.publisher(TOPIC)}` },
      body: new URLSearchParams({ topic: TOPIC, data: `update ${i} ${'x'.repeat(100)}` }),
    });
    const id = await response.text();
    if (response.status !== 200) throw new Error(`the hub refused a publish: ${response.status} ${id}`);
    first ??= id;
  }
  return first;
}

/**
 * Opens `count` subscriptions at once (resuming after `cursor` when given) and returns the hub's CPU
 * per connection (µs).
 */
async function round(
  pid: number,
  port: number,
  mint: TokenMint,
  first: number,
  cursor: string | undefined,
): Promise<number> {
  const resume = cursor === undefined ? '' : `Last-Event-ID: ${cursor}\r\n`;
  const requests = Array.from(
    { length: count },
    (_, i) =>
      `GET ${PATH} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: text/event-stream\r\n${resume}` +
      `Authorization: Bearer ${mint.subscriber(TOPIC, `bench-${first + i}`)}\r\n\r\n`,
  );
  const sockets: net.Socket[] = [];
  const before = cpuSeconds([pid]);
  await Promise.all(
    requests.map(
      (request) =>
        new Promise<void>((resolve, reject) => {
          const socket = net.connect(port, '127.0.0.1', () => socket.write(request));
          sockets.push(socket);
          let head = '';
          const onData = (data: Buffer) => {
            head += data.toString('latin1');
            if (!head.includes('\r\n\r\n')) return;
            socket.off('data', onData);
            socket.on('data', () => {});
            if (head.startsWith('HTTP/1.1 200')) resolve();
            else reject(new Error(`the hub answered: ${head.slice(0, 300)}`));
          };
          socket.on('data', onData);
          socket.on('error', reject);
        }),
    ),
  );
  await sleep(500);
  const cpu = cpuSeconds([pid]) - before;
  for (const socket of sockets) socket.destroy();
  await sleep(1500);
  return (cpu / count) * 1e6;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const medians = new Map<string, number[]>(builds.map((dist) => [dist, []]));

for (let run = 0; run < runs; run++) {
  for (const dist of builds) {
    const hub = await startHub(dist);
    const mint = new TokenMint(hub.key, { host: '127.0.0.1', port: hub.port });
    const figures: number[] = [];
    try {
      const cursor = await publishHistory(hub.port, mint, history);
      for (let r = 0; r < rounds; r++)
        figures.push(await round(hub.child.pid!, hub.port, mint, r * count, cursor));
    } finally {
      hub.child.kill('SIGTERM');
      await new Promise((resolve) => hub.child.once('exit', resolve));
      rmSync(hub.dir, { recursive: true, force: true });
    }
    const steady = figures.length >= 3 ? figures.slice(2) : figures;
    medians.get(dist)!.push(median(steady));
    console.log(
      `${dist}: ${median(steady).toFixed(0)} µs per connection (median of rounds ${figures.length >= 3 ? '3' : '1'}-${rounds}; ` +
        `rounds: ${figures.map((f) => f.toFixed(0)).join(' ')})`,
    );
  }
}
if (runs > 1 || builds.length > 1) {
  for (const [dist, xs] of medians) {
    console.log(
      `${dist}: median of ${xs.length} run(s) ${median(xs).toFixed(0)} µs [${xs.map((x) => x.toFixed(0)).join(' ')}]`,
    );
  }
}
