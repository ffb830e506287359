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
    // Built field by field: an object spread costs each new connection several µs.
    const type = 'subscription';
    const match_type = s.type;
    const match = s.match;
    const active = true;
    out.push(
      payload === undefined
        ? { id, type, match_type, match, subscriber: subscriber.id, active }
        : { id, type, match_type, match, subscriber: subscriber.id, active, payload },
    );
  }
  return out;
}

/**
 * Keeps the registry and the subscription events in step with connections. Each connection's changes
 * are chained, so its `active: false` events can never overtake its `active: true` ones. What a
 * connection announced and its last step live on the subscriber itself (no WeakMap: each entry of one
 * is extra work for every garbage collection), and a counter tracks the steps still running.
 */
export class Presence {
  #running = 0;
  #idle: (() => void)[] = [];

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
    subscriber.announced = subscriptions;
    subscriber.presence = this.#announce(undefined, subscriptions, true);
  }

  /** A connection ended, whoever ended it: forget its subscriptions, then announce it. */
  closed(subscriber: Subscriber): void {
    const subscriptions = subscriber.announced;
    if (!subscriptions) return; // Never announced as open.
    subscriber.announced = undefined;
    subscriber.presence = this.#announce(subscriber.presence, subscriptions, false);
  }

  async #announce(
    after: Promise<void> | undefined,
    subscriptions: readonly ActiveSubscription[],
    active: boolean,
  ): Promise<void> {
    this.#running++;
    try {
      if (after) await after;
      await (active ? this.registry.add(subscriptions) : this.registry.remove(subscriptions));
      // Published together: the broker keeps the order of the calls.
      if (subscriptions.length === 1)
        await this.broker.publish(subscriptionUpdate(subscriptions[0]!, active));
      else await Promise.all(subscriptions.map((s) => this.broker.publish(subscriptionUpdate(s, active))));
    } catch (error) {
      // A broker that is down loses presence events; subscribers reconcile through the API.
      console.error('ssehub: subscription event failed', error);
    } finally {
      if (--this.#running === 0) for (const resolve of this.#idle.splice(0)) resolve();
    }
  }

  /** Resolves once every change requested so far is recorded and announced (for a clean shutdown). */
  settled(): Promise<void> {
    if (this.#running === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }
}
