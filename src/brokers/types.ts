/**
 * The broker contract: how updates get an id and an order, reach every hub instance, and are kept for
 * replay. Every broker passes the shared suite in `contract.ts`; none leaks its client library's types.
 */

/** What a publisher asks to send. */
export interface UpdateInput {
  /** One or more topics; the first is canonical, the rest are alternates. */
  topics: readonly string[];
  /** The payload, opaque to the hub. */
  data: string;
  /** Only subscribers allowed to read one of the topics receive it. */
  private: boolean;
  /** Publisher-chosen id; the broker generates one when absent. */
  id?: string;
  /** SSE `event` field. */
  type?: string;
  /** SSE `retry` field (ms). */
  retry?: number;
}

/** An update as stored and delivered: its id is the event cursor clients send back as `Last-Event-ID`. */
export interface Update extends UpdateInput {
  readonly id: string;
  /** The broker's own position for this update: unique and in hub-wide order; opaque to the hub. */
  readonly pos: string;
}

/** The answer to "what came after this cursor?" */
export interface HistoryResult {
  /**
   * False when the cursor is unknown or already discarded: `updates` then holds all retained history
   * and the subscriber must be told it may have missed updates.
   */
  found: boolean;
  /** Retained updates strictly after the cursor, oldest first. */
  updates: Update[];
}

/** Called with updates in publish order, every update exactly once per hub instance. */
export type UpdateListener = (updates: readonly Update[]) => void;

/** A pub/sub backend for the hub. Made by factories (`createMemoryBroker`, `createRedisBroker`, …). */
export interface Broker {
  /** Assigns the id (unless given) and position, stores the update in history, and fans it out. */
  publish(input: UpdateInput): Promise<Update>;
  /** Registers a listener for every update published from now on; returns the unsubscribe function. */
  subscribe(listener: UpdateListener): () => void;
  /** Updates after `cursor` (an update id, or `earliest` for all retained history). */
  history(cursor: string): Promise<HistoryResult>;
  /** The id of the newest update, or `earliest` when there is none. */
  lastEventId(): Promise<string>;
  /** False while the backend is unreachable; the hub then reports unhealthy and refuses publishes (503). */
  readonly healthy: boolean;
  /** Releases connections and timers. */
  close(): Promise<void>;
}

/** The reserved cursor meaning "from the start of retained history". */
export const EARLIEST = 'earliest';

/** Generates an update id: a UUID URN, as the Mercure spec suggests (Web Crypto, every runtime). */
export function generateId(): string {
  return `urn:uuid:${crypto.randomUUID()}`;
}

/**
 * Orders two broker positions. Positions are one or two non-negative integers joined by `-` (the
 * Redis stream id format; the memory broker uses a plain counter), compared numerically.
 */
export function comparePos(a: string, b: string): number {
  if (a === b) return 0;
  const da = a.indexOf('-');
  const db = b.indexOf('-');
  const ha = Number(da === -1 ? a : a.slice(0, da));
  const hb = Number(db === -1 ? b : b.slice(0, db));
  if (ha !== hb) return ha < hb ? -1 : 1;
  const la = da === -1 ? 0 : Number(a.slice(da + 1));
  const lb = db === -1 ? 0 : Number(b.slice(db + 1));
  return la === lb ? 0 : la < lb ? -1 : 1;
}
