/**
 * Active subscriptions (presence): every subscription start and end becomes a private update on
 * `{hubPath}/subscriptions/{match_type}/{match}/{subscriber}` published through the broker (so it is
 * in history, replayable, and carried to every instance), and a registry (`src/brokers/registry.ts`)
 * answers the Subscription API.
 */
import {
  type ActiveSubscription,
  type Broker,
  type SubscriptionRegistry,
  subscriptionUpdate,
} from '../brokers/index.ts';
import type { Subscriber } from './dispatcher.ts';
import type { MatchType } from './matchers.ts';

/**
 * Percent-encodes one variable of a subscription topic, once: `encodeURIComponent`, plus the dots of
 * a `.` or `..` value, which a URL parser would otherwise remove as a dot segment.
 */
export function encodeSegment(value: string): string {
  const encoded = encodeURIComponent(value);
  return encoded === '.' || encoded === '..' ? encoded.replaceAll('.', '%2E') : encoded;
}

/** The topic of one subscription of `subscriber`. */
export function subscriptionTopic(hubPath: string, type: MatchType, match: string, subscriber: string) {
  return `${hubPath}/subscriptions/${encodeSegment(type)}/${encodeSegment(match)}/${encodeSegment(subscriber)}`;
}

/** The protocol objects of a connection's subscriptions. */
export function subscriptionsOf(subscriber: Subscriber, hubPath: string): ActiveSubscription[] {
  const payload = subscriber.principal?.payload;
  const seen = new Set<string>();
  const out: ActiveSubscription[] = [];
  for (const s of subscriber.subscriptions) {
    const id = subscriptionTopic(hubPath, s.type, s.match, subscriber.id);
    // `match=a&match_exact=a` are the same subscription: one event, not two.
    if (seen.has(id)) continue;
    seen.add(id);
    out.push({
      id,
      type: 'subscription',
      match_type: s.type,
      match: s.match,
      subscriber: subscriber.id,
      active: true,
      ...(payload !== undefined ? { payload } : {}),
    });
  }
  return out;
}

/** Where a connection's chain rests once its steps are done: one settled promise shared by all. */
const SETTLED = Promise.resolve();

/**
 * Keeps the registry and the subscription events in step with connections. Each connection's changes
 * are chained, so its `active: false` events can never overtake its `active: true` ones.
 */
export class Presence {
  readonly #chains = new WeakMap<Subscriber, Promise<void>>();
  /** What `opened` announced for each connection, announced again (inactive) by `closed`. */
  readonly #announced = new WeakMap<Subscriber, ActiveSubscription[]>();
  readonly #pending = new Set<Promise<void>>();

  readonly registry: SubscriptionRegistry;
  readonly broker: Broker;
  readonly hubPath: string;

  constructor(registry: SubscriptionRegistry, broker: Broker, hubPath: string) {
    this.registry = registry;
    this.broker = broker;
    this.hubPath = hubPath;
  }

  /** A connection is live: record its subscriptions, then announce them. */
  opened(subscriber: Subscriber): void {
    const subscriptions = subscriptionsOf(subscriber, this.hubPath);
    this.#announced.set(subscriber, subscriptions);
    this.#chain(subscriber, async () => {
      await this.registry.add(subscriptions);
      // Published together: the broker keeps the order of the calls.
      await Promise.all(subscriptions.map((s) => this.broker.publish(subscriptionUpdate(s, true))));
    });
  }

  /** A connection ended, whoever ended it: forget its subscriptions, then announce it. */
  closed(subscriber: Subscriber): void {
    const subscriptions = this.#announced.get(subscriber);
    if (!subscriptions) return; // Never announced as open.
    this.#announced.delete(subscriber);
    this.#chain(subscriber, async () => {
      await this.registry.remove(subscriptions);
      await Promise.all(subscriptions.map((s) => this.broker.publish(subscriptionUpdate(s, false))));
    });
  }

  #chain(subscriber: Subscriber, step: () => Promise<void>): void {
    const next = (this.#chains.get(subscriber) ?? Promise.resolve()).then(step).catch((error) => {
      // A broker that is down loses presence events; subscribers reconcile through the API.
      console.error('ssehub: subscription event failed', error);
    });
    this.#chains.set(subscriber, next);
    this.#pending.add(next);
    void next.then(() => {
      this.#pending.delete(next);
      // Settled and still the latest step: a shared settled promise chains the same, for less memory.
      if (this.#chains.get(subscriber) === next) this.#chains.set(subscriber, SETTLED);
    });
  }

  /** Resolves once every change requested so far is recorded and announced (for a clean shutdown). */
  async settled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all(this.#pending);
  }
}
