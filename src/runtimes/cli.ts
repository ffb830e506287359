#!/usr/bin/env -S node --max-semi-space-size=2
/**
 * `ssehub` / `npm start`: the hub on Node. Settings come from flags and environment variables (see
 * `--help`); a bad value exits with code 2. `ssehub token …` mints tokens. Start-up is shared with
 * the Bun and Deno entries (`startup.ts`); Node's glue is `node.ts` (`ssehub/node`).
 */
import { adminCommand } from './admin-cli.ts';
import { nodeGlue, runHub } from './node.ts';
import { tokenCommand } from './token.ts';

const argv = process.argv.slice(2);
const run =
  argv[0] === 'token'
    ? tokenCommand(argv.slice(1), process.env)
    : argv[0] === 'admin'
      ? adminCommand(argv.slice(1), process.env)
      : runHub(argv, process.env, nodeGlue());

run.then(
  (code) => process.exit(code),
  (error) => {
    console.error('ssehub:', error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
