/**
 * Outgoing room messages, one ordered queue per destination (a peer's inbox, or the whole room).
 * Publishes travel as separate HTTP requests that may overtake each other, while WebRTC signaling
 * needs its order (an offer before its candidates, one offer before the next): so each queue sends
 * one publish at a time, and batches whatever piled up meanwhile into it (a burst of ICE candidates
 * costs one request, not ten). Web APIs only: this file ships in the browser bundle.
 */

import type { Envelope, EnvelopeItem } from '../room-protocol/index.ts';
import { ClientError } from './errors.ts';

/** What the outbox needs from its room. */
export interface OutboxLink {
  /**
   * Publishes `envelope` to a peer's inbox (`to` = its id) or to the room (`to` = null) as the update
   * `id`: a retry repeats the id, and the hub keeps one update per id.
   */
  publish(to: string | null, envelope: Envelope, id: string): Promise<void>;
  /** Waits before retry number `attempt`; resolves false when the room has closed meanwhile. */
  wait(attempt: number): Promise<boolean>;
  /** This peer's id now (it changes if the room had to join again as a new peer). */
  self(): string;
  /** Largest message the hub takes, in bytes. */
  readonly maxBytes: number;
}

interface Item {
  item: EnvelopeItem;
  bytes: number;
  resolve(): void;
  reject(error: unknown): void;
}

/** Room of the envelope around the items: `{"from":"…","items":[…]}` with a 64-character id, rounded up. */
const ENVELOPE_BYTES = 128;
const utf8 = new TextEncoder();

const retryable = (error: unknown) =>
  error instanceof ClientError &&
  (error.code === 'network' ||
    error.code === 'timeout' ||
    (error.status !== undefined && (error.status >= 500 || error.status === 408 || error.status === 429)));

/** Ordered, batched, retried delivery of room messages; see the module comment. */
export class Outbox {
  readonly #link: OutboxLink;
  readonly #queues = new Map<string, Item[]>();
  readonly #running = new Set<string>();
  /** The batch each queue is sending: its first `count` items, as update `id` until the hub has it. */
  readonly #sending = new Map<string, { count: number; id: string }>();
  #closed = false;

  constructor(link: OutboxLink) {
    this.#link = link;
  }

  /**
   * Queues `item` for `to` (a peer id, or null for everyone); resolves once the hub has it.
   * @throws {RangeError} (as a rejection) for an item larger than the room's message limit.
   */
  enqueue(to: string | null, item: EnvelopeItem): Promise<void> {
    if (this.#closed) return Promise.reject(new ClientError('aborted', 'the room is closed'));
    let json: string;
    try {
      json = JSON.stringify(item);
    } catch (error) {
      return Promise.reject(error);
    }
    if (json === undefined) return Promise.reject(new TypeError('the message is not JSON-serializable'));
    const bytes = utf8.encode(json).length;
    if (bytes + ENVELOPE_BYTES > this.#link.maxBytes) {
      return Promise.reject(
        new RangeError(
          `message of ${bytes} bytes: the room takes at most ${this.#link.maxBytes - ENVELOPE_BYTES}`,
        ),
      );
    }
    const key = to ?? '';
    return new Promise<void>((resolve, reject) => {
      const queue = this.#queues.get(key) ?? [];
      this.#queues.set(key, queue);
      queue.push({ item, bytes, resolve, reject });
      void this.#drain(key, to);
    });
  }

  /** Drops everything queued (their promises reject). */
  close(): void {
    this.#closed = true;
    for (const queue of this.#queues.values()) {
      for (const entry of queue.splice(0)) entry.reject(new ClientError('aborted', 'the room is closed'));
    }
  }

  async #drain(key: string, to: string | null): Promise<void> {
    if (this.#running.has(key)) return;
    this.#running.add(key);
    let attempt = 0;
    try {
      const queue = this.#queues.get(key)!;
      while (queue.length > 0 && !this.#closed) {
        // A batch keeps its items and its id through retries: if an attempt reached the hub but its
        // answer was lost, the retry is the same update, which the hub does not deliver twice.
        let batch = this.#sending.get(key);
        if (!batch) {
          let size = ENVELOPE_BYTES;
          let count = 0;
          while (count < queue.length && size + queue[count]!.bytes + 1 <= this.#link.maxBytes) {
            size += queue[count]!.bytes + 1;
            count++;
          }
          batch = { count, id: `urn:uuid:${crypto.randomUUID()}` };
          this.#sending.set(key, batch);
        }
        const entries = queue.slice(0, batch.count);
        try {
          await this.#link.publish(
            to,
            { from: this.#link.self(), items: entries.map((b) => b.item) },
            batch.id,
          );
        } catch (error) {
          if (retryable(error) && (await this.#link.wait(++attempt))) continue;
          this.#sending.delete(key);
          queue.splice(0, batch.count);
          for (const entry of entries) entry.reject(error);
          continue;
        }
        attempt = 0;
        this.#sending.delete(key);
        queue.splice(0, batch.count);
        for (const entry of entries) entry.resolve();
      }
      if (queue.length === 0) this.#queues.delete(key);
    } finally {
      this.#running.delete(key);
    }
  }
}
