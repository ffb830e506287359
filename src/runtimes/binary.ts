/**
 * The single-file executable (`npm run build:binary`: `bun build --compile` of this file into
 * `dist/bin/`): the `ssehub` command with Bun inside, so a machine without Node runs the hub. Same
 * settings (flags and environment variables), same `--help` and `ssehub token …` as `cli.ts`; the
 * server is Bun's (`bun.ts`), and the 64 KiB header limit `npm run start:bun` passes on Bun's command
 * line is baked in with `--compile-exec-argv`.
 */
import { bunGlue, runHub } from './bun.ts';
import { tokenCommand } from './token.ts';

// A compiled executable sees `bun` and its own path first, as `bun file.ts` would (Bun 1.1+).
const argv = process.argv.slice(2);
const run =
  argv[0] === 'token'
    ? tokenCommand(argv.slice(1), process.env)
    : runHub(argv, process.env, { ...bunGlue(), command: 'ssehub' });

run.then(
  (code) => process.exit(code),
  (error) => {
    console.error('ssehub:', error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
