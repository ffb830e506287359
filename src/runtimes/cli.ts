#!/usr/bin/env node
/**
 * `ssehub` / `npm start`: the hub on Node. Settings come from flags and environment variables (see
 * `--help`); a bad value exits with code 2. `ssehub token …` mints tokens. Start-up is shared with
 * the Bun and Deno entries (`startup.ts`); this file is only Node's glue.
 */
import type { IncomingMessage } from 'node:http';
import { loopDelayMonitor, serveNode } from './node.ts';
import { runHub } from './startup.ts';
import { tokenCommand } from './token.ts';

const argv = process.argv.slice(2);
const run =
  argv[0] === 'token'
    ? tokenCommand(argv.slice(1), process.env)
    : runHub(argv, process.env, {
        name: 'node',
        command: 'ssehub',
        async serve(fetch, options) {
          const server = await serveNode(fetch, options);
          return { port: server.port, close: () => server.close(2000) };
        },
        clientAddress: (c) =>
          (c.env as { incoming?: IncomingMessage } | undefined)?.incoming?.socket.remoteAddress,
        // Fan out once per event-loop turn: every publish handled in the turn shares one write per subscriber.
        defer: setImmediate,
        loopDelay: loopDelayMonitor(),
        onSignal: (signal, handler) => process.on(signal, handler),
        exit: (code) => process.exit(code),
      });

run.then(
  (code) => process.exit(code),
  (error) => {
    console.error('ssehub:', error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
