/**
 * The operator controls of one hub instance, wired together: rate limits, the denylist and the admin
 * messages of the control plane, webhooks, the maximum connection age, and the publish latency. The
 * hub (`app.ts`) makes one and hooks it in at a handful of places; everything here is built only when
 * its setting is on, so a hub without operator controls pays nothing on its hot paths.
 */
import type { Context } from 'hono';
import {
  type Broker,
  type ControlMessage,
  type ControlPlane,
  createMemoryControl,
  createMemoryLedger,
  createMemoryRateLimits,
  type RateLimitStore,
  type Update,
  type WebhookLedger,
} from '../brokers/index.ts';
import type { Authorizer } from './auth.ts';
import type { Dispatcher, Subscriber } from './dispatcher.ts';
import { endWithRetry } from './drain.ts';
import type { ExpiriesOptions, Expiring } from './expiries.ts';
import type { Metrics } from './metrics.ts';
import { dropOldest } from './oldest.ts';
import { type RateLimitSettings, RateLimits } from './rate-limit.ts';
import { Denylist, refusingRevoked } from './revocations.ts';
import { type WebhookSettings, Webhooks } from './webhooks.ts';

export interface OperationsSettings extends RateLimitSettings, WebhookSettings {
  maxConnectionAge?: number;
  adminKey?: string;
  adminTokens?: boolean;
  /** Bearer key `/metrics` requires; public without one. */
  metricsKey?: string;
}

/** Backends the runtime may share between instances (Redis); memory ones otherwise. */
export interface OperationsBackends {
  rateLimits?: RateLimitStore;
  control?: ControlPlane;
  ledger?: WebhookLedger;
  /** How webhooks are POSTed (tests); default the global `fetch`. */
  fetch?: typeof fetch;
}

/** Which streams an admin action closes. */
export type StreamFilter = { subscriber?: string; sub?: string; jti?: string };

export class Operations {
  /** Random per instance: control messages it sent come back to it and are skipped. */
  readonly instanceId = crypto.randomUUID();
  readonly rateLimits: RateLimits | undefined;
  readonly webhooks: Webhooks | undefined;
  /** Set when the admin API is on (key or tokens), with the denylist it keeps. */
  readonly admin: { readonly key?: string; readonly tokens: boolean } | undefined;
  readonly denylist = new Denylist();
  readonly control: ControlPlane;
  readonly latency: PublishLatency;
  /** The client's address, as the runtime reports it (for rate limits outside the hub's own routes). */
  readonly clientAddress: (c: Context) => string | undefined;
  /** Resolves once the denylist is loaded. */
  readonly ready: Promise<void>;
  readonly #dispatcher: Dispatcher;
  readonly #metrics: Metrics;
  readonly #settings: OperationsSettings;
  readonly #unlisten: () => void;

  /** @throws {ConfigError} for malformed rates or webhook settings. */
  constructor(
    settings: OperationsSettings,
    deps: {
      broker: Broker;
      dispatcher: Dispatcher;
      metrics: Metrics;
      hubPath: string;
      clientAddress?: (c: Context) => string | undefined;
    },
    backends: OperationsBackends = {},
  ) {
    this.#settings = settings;
    this.clientAddress = deps.clientAddress ?? (() => undefined);
    this.#dispatcher = deps.dispatcher;
    this.#metrics = deps.metrics;
    this.rateLimits = RateLimits.fromSettings(
      settings,
      () => backends.rateLimits ?? createMemoryRateLimits(),
      deps.metrics,
    );
    this.webhooks = Webhooks.fromSettings(settings, {
      broker: deps.broker,
      ledger: () => backends.ledger ?? createMemoryLedger(),
      metrics: deps.metrics,
      hubPath: deps.hubPath,
      fetch: backends.fetch,
    });
    this.admin =
      settings.adminKey || settings.adminTokens
        ? { key: settings.adminKey || undefined, tokens: settings.adminTokens ?? false }
        : undefined;
    this.control = backends.control ?? createMemoryControl();
    this.#unlisten = this.admin ? this.control.listen((message) => this.#receive(message)) : () => {};
    this.ready = this.admin ? this.#reload() : Promise.resolve();
    this.latency = new PublishLatency(deps.metrics, deps.dispatcher.defer);
  }

  /** The authorizer, refusing revoked tokens when the admin API (and so revocation) is on. */
  guard(authorizer: Authorizer): Authorizer {
    return this.admin ? refusingRevoked(authorizer, this.denylist) : authorizer;
  }

  /** Options of the hub's expiry timer: the maximum connection age, when set. */
  expiryOptions(): ExpiriesOptions {
    const age = this.#settings.maxConnectionAge ?? 0;
    if (age <= 0) return {};
    return {
      maxAgeMs: age * 1000,
      onAged: (subject: Expiring) => {
        this.#metrics.closedBy.age++;
        subject.expire();
      },
    };
  }

  /**
   * Carries out an admin action here and on every other instance. Resolves with the number of
   * streams it closed on this instance.
   */
  async act(message: ControlMessage): Promise<number> {
    const closed = this.#apply(message);
    await this.control.broadcast({ ...message, origin: this.instanceId });
    return closed;
  }

  #receive(message: ControlMessage | { op: 'reload' }): void {
    if (message.op === 'reload') {
      void this.#reload().catch((error) => console.error('ssehub: could not reload revocations', error));
      return;
    }
    if (message.origin !== this.instanceId) this.#apply(message);
  }

  #apply(message: ControlMessage): number {
    switch (message.op) {
      case 'revoke': {
        const { revocation } = message;
        this.denylist.add(revocation);
        return this.closeStreams({ jti: revocation.jti, sub: revocation.sub }, 'revoked');
      }
      case 'lift':
        this.denylist.delete(message);
        return 0;
      case 'disconnect':
        return this.closeStreams(message, 'admin', message.retry);
    }
  }

  async #reload(): Promise<void> {
    this.denylist.replace(await this.control.revocations());
    // Whatever was revoked while this instance was not listening: its streams close now.
    for (const subscriber of [...this.#dispatcher.subscribers]) {
      if (this.denylist.refuses(subscriber.principal)) this.#close(subscriber, 'revoked');
    }
  }

  /** Closes the local streams `filter` selects (an empty filter selects none); returns how many. */
  closeStreams(filter: StreamFilter, reason: 'admin' | 'revoked', retry?: number): number {
    if (filter.subscriber === undefined && filter.sub === undefined && filter.jti === undefined) return 0;
    let count = 0;
    for (const subscriber of [...this.#dispatcher.subscribers]) {
      const principal = subscriber.principal;
      if (filter.subscriber !== undefined && subscriber.id !== filter.subscriber) continue;
      if (filter.sub !== undefined && principal?.subject !== filter.sub) continue;
      if (filter.jti !== undefined && principal?.tokenId !== filter.jti) continue;
      this.#close(subscriber, reason, retry);
      count++;
    }
    return count;
  }

  #close(subscriber: Subscriber, reason: 'admin' | 'revoked', retry?: number): void {
    this.#metrics.closedBy[reason]++;
    if (retry !== undefined) endWithRetry(subscriber.stream, retry);
    else subscriber.stream.close('server');
  }

  async close(): Promise<void> {
    this.#unlisten();
    await this.webhooks?.close();
    await this.rateLimits?.close();
    await this.control.close();
  }
}

/** Most publishes tracked at once for the latency histogram. */
const MAX_TRACKED = 1024;

/**
 * Publish latency: from a publish request's arrival to the end of the fan-out turn that wrote the
 * update to this instance's subscribers. The broker hands the update to the dispatcher, which writes it
 * in a deferred turn; a second turn, deferred the same way after it, notes the time. Only updates
 * published on this instance are measured (the others' start is on another instance), and the probe
 * runs only while some are in flight.
 */
export class PublishLatency {
  #inFlight = 0;
  readonly #started = new Map<string, number>();
  readonly #written = new Map<string, number>();
  readonly #metrics: Metrics;
  readonly #defer: (run: () => void) => void;

  constructor(metrics: Metrics, defer: (run: () => void) => void) {
    this.#metrics = metrics;
    this.#defer = defer;
  }

  /** A publish request arrived; returns its start time (pass it to {@link published}). */
  begin(): number {
    this.#inFlight++;
    return performance.now();
  }

  /** The publish that began at `started` is stored as `id` (undefined: it failed). */
  published(id: string | undefined, started: number): void {
    this.#inFlight--;
    if (id === undefined) return;
    const written = this.#written.get(id);
    if (written !== undefined) {
      this.#written.delete(id);
      this.#metrics.publishLatency.observe(Math.max(0, written - started) / 1000);
    } else remember(this.#started, id, started);
  }

  /** Broker listener, registered after the dispatcher's so that its deferred turn comes second. */
  readonly listener = (updates: readonly Update[]): void => {
    if (this.#inFlight === 0 && this.#started.size === 0) return;
    const defer = this.#defer;
    defer(() => {
      const now = performance.now();
      for (const update of updates) {
        const started = this.#started.get(update.id);
        if (started !== undefined) {
          this.#started.delete(update.id);
          this.#metrics.publishLatency.observe(Math.max(0, now - started) / 1000);
        } else if (this.#inFlight > 0) remember(this.#written, update.id, now);
      }
    });
  };
}

function remember(map: Map<string, number>, id: string, time: number): void {
  map.set(id, time);
  dropOldest(map, MAX_TRACKED);
}
