/**
 * `npm run start:bun`: the hub on Bun (`Bun.serve`), with the same settings and start-up as the Node
 * CLI (flags and environment variables, `PORT` included; see `src/runtimes/startup.ts`). The glue is
 * `bun.ts` (`ssehub/bun`); this file only starts it.
 */
import { bunGlue, runHub } from './bun.ts';

runHub(process.argv.slice(2), process.env, bunGlue()).then(
  (code) => process.exit(code),
  (error) => {
    console.error('ssehub:', error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
