/**
 * Runs SQLite brokers inside Bun (`bun:sqlite`) or Deno (`node:sqlite`) and serves them over stdin and
 * stdout, one JSON message a line, so that the broker contract (a vitest suite, run by Node) can test
 * the very driver each runtime's hub uses. Requests: `{ n, op, … }`, answered `{ n, result }` or
 * `{ n, error }`; every batch a broker announces is sent as `{ broker, updates }`, in order.
 * Infinity travels as the string "Infinity" (JSON has no such number).
 */
import { createInterface } from 'node:readline';
import {
  type Broker,
  createSqliteBroker,
  type Retention,
  type UpdateInput,
} from '../../src/brokers/index.ts';
import { openBunSqlite, openNodeSqlite } from '../../src/runtimes/sqlite.ts';

const open = 'Bun' in globalThis ? openBunSqlite : openNodeSqlite;
const brokers = new Map<number, Broker>();
let nextBroker = 0;

const send = (message: unknown) =>
  process.stdout.write(
    `${JSON.stringify(message, (_, v) => (v === Number.POSITIVE_INFINITY ? 'Infinity' : v))}\n`,
  );
const revive = (_: string, v: unknown) => (v === 'Infinity' ? Number.POSITIVE_INFINITY : v);

type Request =
  | { n: number; op: 'create'; path: string; retention: Retention }
  | { n: number; op: 'publish'; broker: number; input: UpdateInput }
  | { n: number; op: 'history'; broker: number; cursor: string; limit?: number }
  | { n: number; op: 'historyAfter'; broker: number; pos: string; limit?: number }
  | { n: number; op: 'historyBefore'; broker: number; pos?: string; limit: number }
  | { n: number; op: 'lastEventId' | 'close'; broker: number };

async function handle(request: Request): Promise<unknown> {
  if (request.op === 'create') {
    const id = nextBroker++;
    const broker = createSqliteBroker({
      driver: await open(request.path),
      retention: request.retention,
      defer: setImmediate,
    });
    broker.subscribe((updates) => send({ broker: id, updates }));
    brokers.set(id, broker);
    return id;
  }
  const broker = brokers.get(request.broker);
  if (!broker) throw new Error(`no broker ${request.broker}`);
  switch (request.op) {
    case 'publish':
      return broker.publish(request.input);
    case 'history':
      return broker.history(request.cursor, request.limit ?? undefined);
    case 'historyAfter':
      return broker.historyAfter(request.pos, request.limit ?? undefined);
    case 'historyBefore':
      return broker.historyBefore(request.pos ?? undefined, request.limit);
    case 'lastEventId':
      return broker.lastEventId();
    case 'close':
      brokers.delete(request.broker);
      return broker.close();
  }
}

createInterface({ input: process.stdin }).on('line', (line) => {
  const request = JSON.parse(line, revive) as Request;
  handle(request).then(
    (result) => send({ n: request.n, result: result ?? null }),
    (error: unknown) => send({ n: request.n, error: error instanceof Error ? error.message : String(error) }),
  );
});
send({ ready: true });
