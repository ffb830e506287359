/**
 * Connection limits of one hub instance: open subscriber streams in total and per client (the token's
 * `sub` when it has one, else the client address the runtime reports). Over a limit → 429.
 */
import { HubError } from './errors.ts';

export interface ConnectionLimits {
  /** Most open streams, 0 for no limit. */
  maxConnections: number;
  /** Most open streams per client, 0 for no limit. */
  maxConnectionsPerClient: number;
}

/** Counts open streams; {@link ConnectionLimiter.acquire} returns the release function. */
export class ConnectionLimiter {
  #total = 0;
  readonly #perClient = new Map<string, number>();

  readonly limits: ConnectionLimits;

  constructor(limits: ConnectionLimits) {
    this.limits = limits;
  }

  /**
   * Takes one connection slot for `client` (undefined: unknown, only the total applies).
   * @throws {HubError} 429 when a limit is reached.
   */
  acquire(client: string | undefined): () => void {
    const { maxConnections, maxConnectionsPerClient } = this.limits;
    if (maxConnections > 0 && this.#total >= maxConnections) {
      throw tooMany('the hub has too many open connections; retry later');
    }
    const key = maxConnectionsPerClient > 0 ? client : undefined;
    const held = key === undefined ? 0 : (this.#perClient.get(key) ?? 0);
    if (key !== undefined && held >= maxConnectionsPerClient) {
      throw tooMany(`too many open connections for this client (at most ${maxConnectionsPerClient})`);
    }
    this.#total++;
    if (key !== undefined) this.#perClient.set(key, held + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#total--;
      if (key === undefined) return;
      const left = (this.#perClient.get(key) ?? 1) - 1;
      if (left === 0) this.#perClient.delete(key);
      else this.#perClient.set(key, left);
    };
  }
}

// Clients back off on Retry-After; EventSource retries with its own delay anyway.
const tooMany = (message: string) => new HubError('too_many_requests', message, { 'retry-after': '5' });
