/**
 * `npm run start:deno`: the hub on Deno (`Deno.serve`), with the same settings and start-up as the
 * Node CLI (flags and environment variables, `PORT` included; see `src/runtimes/startup.ts`). The glue
 * is `deno.ts` (`ssehub/deno`); this file only starts it.
 */
import { denoGlue, runHub } from './deno.ts';

/** The slice of Deno's API this entry uses. */
interface DenoProcess {
  readonly args: string[];
  env: { toObject(): Record<string, string> };
  exit(code: number): never;
}

const Deno = (globalThis as unknown as { Deno: DenoProcess }).Deno;

runHub(Deno.args, Deno.env.toObject(), denoGlue()).then(
  (code) => Deno.exit(code),
  (error) => {
    console.error('ssehub:', error instanceof Error ? error.message : error);
    Deno.exit(1);
  },
);
