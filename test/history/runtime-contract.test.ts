/**
 * The broker contract for the SQLite broker on the drivers of Bun (`bun:sqlite`) and Deno
 * (`node:sqlite`): the brokers run in a `bun` / `deno` process (`broker-server.ts`) and the suite
 * drives them from here through a proxy with the Broker interface. Node's driver (better-sqlite3) is
 * tested in-process by `src/brokers/sqlite.test.ts`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe } from 'vitest';
import { brokerContract } from '../../src/brokers/contract.ts';
import type { Broker, Retention, UpdateListener } from '../../src/brokers/index.ts';
import { runtimeBinary } from '../helpers/runtimes.ts';

const SERVER = 'test/history/broker-server.ts';
const commands: Record<string, () => [string, string[]]> = {
  bun: () => [runtimeBinary('bun'), [SERVER]],
  deno: () => [runtimeBinary('deno'), ['run', '--allow-read', '--allow-write', '--allow-env', SERVER]],
};

/** A broker process and the proxies of the brokers it runs. */
function brokerProcess(child: ChildProcess) {
  let n = 0;
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  const listeners = new Map<number, Set<UpdateListener>>();
  let ready!: () => void;
  const started = new Promise<void>((resolve) => {
    ready = resolve;
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.once('exit', (code) => {
    for (const { reject } of pending.values())
      reject(new Error(`broker process exited (${code}): ${stderr}`));
  });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const message = JSON.parse(line, (_, v) => (v === 'Infinity' ? Number.POSITIVE_INFINITY : v));
    if (message.ready) ready();
    else if (message.updates)
      for (const listener of listeners.get(message.broker) ?? []) listener(message.updates);
    else {
      const call = pending.get(message.n)!;
      pending.delete(message.n);
      if (message.error !== undefined) call.reject(new Error(message.error));
      else call.resolve(message.result);
    }
  });
  const call = <T>(request: Record<string, unknown>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const id = n++;
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      const json = JSON.stringify({ n: id, ...request }, (_, v) =>
        v === Number.POSITIVE_INFINITY ? 'Infinity' : v,
      );
      child.stdin!.write(`${json}\n`);
    });

  return {
    started,
    async create(path: string, retention: Retention): Promise<Broker> {
      const id = await call<number>({ op: 'create', path, retention });
      const own = new Set<UpdateListener>();
      listeners.set(id, own);
      let closed = false;
      return {
        get healthy() {
          return !closed;
        },
        publish: (input) => call({ op: 'publish', broker: id, input }),
        subscribe(listener) {
          own.add(listener);
          return () => own.delete(listener);
        },
        history: (cursor, limit) => call({ op: 'history', broker: id, cursor, limit }),
        historyAfter: (pos, limit) => call({ op: 'historyAfter', broker: id, pos, limit }),
        historyBefore: (pos, limit) => call({ op: 'historyBefore', broker: id, pos, limit }),
        lastEventId: () => call({ op: 'lastEventId', broker: id }),
        async close() {
          if (closed) return;
          closed = true;
          await call({ op: 'close', broker: id });
          own.clear();
        },
      };
    },
  };
}

for (const [runtime, command] of Object.entries(commands)) {
  describe(`sqlite broker on ${runtime}`, () => {
    let child: ChildProcess;
    let server: ReturnType<typeof brokerProcess>;
    const dir = mkdtempSync(join(tmpdir(), `ssehub-${runtime}-sqlite-`));
    let files = 0;
    const paths = new WeakMap<Broker, { path: string; retention: Retention }>();
    const open = async (path: string, retention: Retention) => {
      const broker = await server.create(path, retention);
      paths.set(broker, { path, retention });
      return broker;
    };

    beforeAll(async () => {
      const [bin, args] = command();
      child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
      server = brokerProcess(child);
      await server.started;
    });
    afterAll(() => {
      child?.kill();
      rmSync(dir, { recursive: true, force: true });
    });

    brokerContract(`sqlite (${runtime})`, {
      create: ({ retention }) => open(join(dir, `contract-${files++}.db`), retention),
      reopen(broker) {
        const { path, retention } = paths.get(broker)!;
        return open(path, retention);
      },
    });
  });
}
