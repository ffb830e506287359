/**
 * Webhooks in the Standard Webhooks format (standardwebhooks.com): presence changes POSTed to the
 * application's backend, so that it hears who comes and goes without holding a stream open.
 *
 * Every instance reads every subscription event from the broker (including the `active: false` events
 * a survivor publishes for an instance that died); the {@link WebhookLedger} lets exactly one instance
 * claim each, and keeps the hub-wide count of subscriptions per topic and of connections per room
 * peer. From one subscription event come:
 * - `subscription.active` / `subscription.inactive`: the subscription, as the protocol shows it;
 * - `topic.occupied` / `topic.vacated`: the first subscription to a matcher opened, the last closed;
 * - `room.joined` / `room.left`: a room peer's first connection to its inbox opened, its last closed.
 *
 * Delivery is at least once: each event is POSTed until the endpoint answers 2xx, with exponential
 * backoff and jitter, up to `SSEHUB_WEBHOOK_ATTEMPTS` attempts, from a bounded queue in memory (a
 * shutdown gives what is queued one last attempt; a crash loses it). Every attempt of an event carries
 * the same `webhook-id`, so the receiver can drop repeats.
 */
import { Webhook } from 'standardwebhooks';
import type { ActiveSubscription, Broker, Update, WebhookLedger } from '../brokers/index.ts';
import { ConfigError } from '../config/index.ts';
import { inboxTopic, isJsonObject, isPeerId, isRoomName, type PeerPayload } from '../room-protocol/index.ts';
import type { Metrics } from './metrics.ts';

/** Every event type, in the order the docs list them. */
export const WEBHOOK_EVENTS = [
  'subscription.active',
  'subscription.inactive',
  'topic.occupied',
  'topic.vacated',
  'room.joined',
  'room.left',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENTS)[number];

export interface WebhookSettings {
  webhookUrl?: string;
  webhookSecret?: string;
  webhookEvents?: readonly string[];
  webhookQueue?: number;
  webhookAttempts?: number;
  webhookBackoff?: number;
  subscriptionEvents?: boolean;
}

/** Events in flight at once. */
const CONCURRENCY = 4;
/** One attempt waits this long for an answer. */
const ATTEMPT_TIMEOUT_MS = 10_000;
/** Longest wait between two attempts. */
const MAX_BACKOFF_MS = 10 * 60_000;
/** How long a shutdown waits for the last deliveries. */
const CLOSE_GRACE_MS = 5000;

interface Pending {
  readonly id: string;
  readonly body: string;
  attempts: number;
}

/** Sends the webhooks of one hub instance. */
export class Webhooks {
  readonly #url: string;
  readonly #signer: Webhook;
  readonly #types: ReadonlySet<string>;
  readonly #ledger: WebhookLedger;
  readonly #metrics: Metrics;
  readonly #fetch: typeof fetch;
  readonly #maxQueue: number;
  readonly #attempts: number;
  readonly #backoff: number;
  readonly #prefix: string;
  readonly #queue: Pending[] = [];
  readonly #retrying = new Map<Pending, ReturnType<typeof setTimeout>>();
  #inFlight = 0;
  #closed = false;
  /** Called when nothing is queued or in flight any more (while closing). */
  #onIdle: (() => void) | undefined;
  readonly #unsubscribe: () => void;
  /** Claims of subscription events still running, so that shutdown can wait for them. */
  readonly #claims = new Set<Promise<void>>();

  /**
   * Reads the settings; returns undefined when no webhook URL is set.
   * @throws {ConfigError} for a missing or malformed secret, a bad URL or unknown event types.
   */
  static fromSettings(
    settings: WebhookSettings,
    deps: {
      broker: Broker;
      ledger: () => WebhookLedger;
      metrics: Metrics;
      hubPath: string;
      fetch?: typeof fetch;
    },
  ): Webhooks | undefined {
    const url = settings.webhookUrl;
    if (!url) return undefined;
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new ConfigError(`SSEHUB_WEBHOOK_URL must be an http(s) URL, got "${url}"`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new ConfigError(`SSEHUB_WEBHOOK_URL must be an http(s) URL, got "${url}"`);
    }
    if (!settings.webhookSecret)
      throw new ConfigError('SSEHUB_WEBHOOK_URL needs SSEHUB_WEBHOOK_SECRET (whsec_…)');
    if (settings.subscriptionEvents === false) {
      throw new ConfigError('webhooks come from subscription events: leave SSEHUB_SUBSCRIPTION_EVENTS on');
    }
    let signer: Webhook;
    try {
      signer = new Webhook(settings.webhookSecret);
    } catch {
      throw new ConfigError('SSEHUB_WEBHOOK_SECRET must be whsec_ followed by base64 (Standard Webhooks)');
    }
    const requested = settings.webhookEvents ?? [];
    for (const type of requested) {
      if (!(WEBHOOK_EVENTS as readonly string[]).includes(type)) {
        throw new ConfigError(
          `SSEHUB_WEBHOOK_EVENTS: unknown event "${type}" (known: ${WEBHOOK_EVENTS.join(', ')})`,
        );
      }
    }
    return new Webhooks({
      url: parsed.href,
      signer,
      types: new Set(requested.length > 0 ? requested : WEBHOOK_EVENTS),
      ledger: deps.ledger(),
      metrics: deps.metrics,
      broker: deps.broker,
      fetch: deps.fetch ?? ((input, init) => fetch(input, init)),
      hubPath: deps.hubPath,
      maxQueue: settings.webhookQueue ?? 10_000,
      attempts: settings.webhookAttempts ?? 8,
      backoff: settings.webhookBackoff ?? 1000,
    });
  }

  constructor(options: {
    url: string;
    signer: Webhook;
    types: ReadonlySet<string>;
    ledger: WebhookLedger;
    metrics: Metrics;
    broker: Broker;
    fetch: typeof fetch;
    hubPath: string;
    maxQueue: number;
    attempts: number;
    backoff: number;
  }) {
    this.#url = options.url;
    this.#signer = options.signer;
    this.#types = options.types;
    this.#ledger = options.ledger;
    this.#metrics = options.metrics;
    this.#fetch = options.fetch;
    this.#maxQueue = options.maxQueue;
    this.#attempts = options.attempts;
    this.#backoff = options.backoff;
    this.#prefix = `${options.hubPath}/subscriptions/`;
    this.#unsubscribe = options.broker.subscribe((updates) => {
      for (const update of updates) this.#observe(update);
    });
  }

  /** A subscription event from the broker: claim it, then queue what it means. */
  #observe(update: Update): void {
    if (update.type !== 'mercure' || !update.private || !update.topics[0]?.startsWith(this.#prefix)) return;
    let s: ActiveSubscription;
    try {
      s = JSON.parse(update.data) as ActiveSubscription;
    } catch {
      return;
    }
    if (s?.type !== 'subscription' || typeof s.match !== 'string') return;
    const peer = roomPeerOf(s);
    const counters = [`topic:${s.match_type}:${s.match}`];
    if (peer) counters.push(`peer:${peer.room}/${peer.peer}`);
    const claim = this.#ledger
      .claim(update.id, counters, s.active ? 1 : -1)
      .then((counts) => {
        if (!counts) return;
        const { active, ...subscription } = s;
        this.#emit(active ? 'subscription.active' : 'subscription.inactive', subscription);
        const topic = { match: s.match, match_type: s.match_type };
        if (active && counts[0] === 1) this.#emit('topic.occupied', topic);
        if (!active && counts[0] === 0) this.#emit('topic.vacated', topic);
        if (peer && active && counts[1] === 1) this.#emit('room.joined', peer);
        if (peer && !active && counts[1] === 0) this.#emit('room.left', peer);
      })
      .catch((error: unknown) => {
        console.error('ssehub: webhook event not claimed (not sent)', error);
        this.#metrics.webhooks.failed++;
      });
    this.#claims.add(claim);
    void claim.finally(() => this.#claims.delete(claim));
  }

  #emit(type: WebhookEventType, data: unknown): void {
    if (this.#closed || !this.#types.has(type)) return;
    if (this.#size() >= this.#maxQueue) {
      this.#metrics.webhooks.dropped++;
      return;
    }
    const body = JSON.stringify({ type, timestamp: new Date().toISOString(), data });
    this.#queue.push({ id: `msg_${crypto.randomUUID().replaceAll('-', '')}`, body, attempts: 0 });
    this.#pump();
  }

  #size(): number {
    return this.#queue.length + this.#inFlight + this.#retrying.size;
  }

  #pump(): void {
    this.#metrics.webhookQueue = this.#size();
    while (!this.#closed && this.#inFlight < CONCURRENCY && this.#queue.length > 0) {
      const next = this.#queue.shift()!;
      this.#inFlight++;
      void this.#attempt(next).finally(() => {
        this.#inFlight--;
        this.#pump();
      });
    }
    if (this.#size() === 0) this.#onIdle?.();
  }

  async #attempt(event: Pending): Promise<void> {
    event.attempts++;
    let failure: string;
    try {
      const response = await this.#fetch(this.#url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'webhook-id': event.id,
          'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
          'webhook-signature': this.#signer.sign(event.id, new Date(), event.body),
        },
        body: event.body,
        signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
      });
      await response.body?.cancel();
      if (response.ok) {
        this.#metrics.webhooks.delivered++;
        return;
      }
      failure = `HTTP ${response.status}`;
    } catch (error) {
      failure = error instanceof Error ? error.message : String(error);
    }
    if (this.#closed) return;
    if (event.attempts >= this.#attempts) {
      this.#metrics.webhooks.failed++;
      console.error(
        `ssehub: webhook ${event.id} dropped after ${event.attempts} attempts (last: ${failure})`,
      );
      return;
    }
    this.#metrics.webhooks.retried++;
    const base = Math.min(MAX_BACKOFF_MS, this.#backoff * 2 ** (event.attempts - 1));
    const delay = Math.round(base * (0.75 + Math.random() / 2));
    this.#retrying.set(
      event,
      setTimeout(() => {
        this.#retrying.delete(event);
        this.#queue.push(event);
        this.#pump();
      }, delay),
    );
  }

  /**
   * Stops: events already claimed (the last `inactive` ones of a shutdown among them) get one more
   * attempt each, for up to {@link CLOSE_GRACE_MS}; what is left then is dropped (and logged).
   */
  async close(): Promise<void> {
    this.#unsubscribe();
    await Promise.all([...this.#claims]);
    for (const [event, timer] of this.#retrying) {
      clearTimeout(timer);
      event.attempts = Math.max(event.attempts, this.#attempts - 1);
      this.#queue.push(event);
    }
    this.#retrying.clear();
    this.#pump();
    if (this.#size() > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, CLOSE_GRACE_MS);
        this.#onIdle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    this.#closed = true;
    for (const timer of this.#retrying.values()) clearTimeout(timer);
    const left = this.#queue.length + this.#retrying.size;
    this.#retrying.clear();
    this.#queue.length = 0;
    if (left > 0) console.error(`ssehub: ${left} webhook events not delivered before shutdown`);
    await this.#ledger.close();
  }
}

/** The room and peer of a subscription that is a room peer's own inbox, else undefined. */
function roomPeerOf(s: ActiveSubscription): PeerPayload | undefined {
  const payload = s.payload;
  if (s.match_type !== 'exact' || !isJsonObject(payload)) return undefined;
  const { room, peer, name, user } = payload;
  if (!isRoomName(room) || !isPeerId(peer) || s.match !== inboxTopic(room, peer)) return undefined;
  return {
    room,
    peer,
    ...(typeof name === 'string' ? { name } : {}),
    ...(typeof user === 'string' ? { user } : {}),
  };
}
