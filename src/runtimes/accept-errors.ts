/**
 * Connections a server could not accept — out of file descriptors (`EMFILE`), of memory — are
 * reset by the system while the hub goes on; the log says so at most once every 10 s, with how many
 * there were, rather than once per connection of a flood.
 */

const EVERY_MS = 10_000;

let unlogged = 0;
let loggedAt = Number.NEGATIVE_INFINITY;

/** Counts one refused connection (or one stop of a server's accept loop) and logs it when due. */
export function acceptFailed(error: unknown): void {
  unlogged++;
  const now = performance.now();
  if (now - loggedAt < EVERY_MS) return;
  const message = error instanceof Error ? error.message : String(error);
  const full = /EMFILE|too many open files/i.test(message)
    ? ': the open-file limit is reached; raise it (ulimit -n) or set SSEHUB_MAX_CONNECTIONS below it'
    : '';
  console.error(`ssehub: could not accept ${unlogged} connection(s) (${message})${full}`);
  unlogged = 0;
  loggedAt = now;
}
