/**
 * Where active subscriptions (presence) are kept: a backend contract, like {@link Broker}, with an
 * in-memory driver here (one instance) and a Redis one in `./redis/` (several instances), both passing
 * the shared suite in `registry-contract.ts`. Also the shape of a subscription event, which a shared
 * registry publishes itself for the subscriptions of an instance that died.
 */
import type { UpdateInput } from './types.ts';

/**
 * One subscription as the protocol shows it, in subscription events and Subscription API responses.
 * Field names are the wire names.
 */
export interface ActiveSubscription {
  /** The subscription's topic: `{hubPath}/subscriptions/{match_type}/{match}/{subscriber}`. */
  readonly id: string;
  readonly type: 'subscription';
  /** `exact`, `urlpattern` (or the legacy `uritemplate`). */
  readonly match_type: string;
  readonly match: string;
  /** Hub-generated per connection (a UUID URN); never chosen by the client. */
  readonly subscriber: string;
  readonly active: boolean;
  /** The `payload` of the subscriber's token, when it has one. */
  readonly payload?: unknown;
}

/** Narrows {@link SubscriptionRegistry.list}: every given field must be equal. */
export interface SubscriptionFilter {
  match_type?: string;
  match?: string;
  subscriber?: string;
}

/**
 * Where active subscriptions are kept. The hub calls `add` before publishing the `active: true`
 * events of a connection and `remove` before publishing its `active: false` events, and the
 * Subscription API reads the broker's `lastEventId()` *before* `list()`: so every change at or before
 * that cursor is already in the list, and a client that subscribes from the cursor misses nothing.
 *
 * A shared implementation (several hub instances) must keep that order across instances — `add` and
 * `remove` resolve once the change is visible to every instance's `list` — and must expire the entries
 * of an instance that died without removing them, publishing their `active: false` events itself
 * (with {@link subscriptionUpdate}) so that subscribers see them go.
 */
export interface SubscriptionRegistry {
  /** Records the subscriptions of one connection (all with `active: true`). */
  add(subscriptions: readonly ActiveSubscription[]): Promise<void>;
  /** Forgets the subscriptions of one connection (as recorded by `add`). */
  remove(subscriptions: readonly ActiveSubscription[]): Promise<void>;
  /** The active subscriptions matching `filter`, in a stable order. */
  list(filter: SubscriptionFilter): Promise<ActiveSubscription[]>;
  /** Releases connections and timers. */
  close(): Promise<void>;
}

/** The in-process registry: one hub instance. */
export function createMemoryRegistry(): SubscriptionRegistry {
  const entries = new Map<string, ActiveSubscription>();
  return {
    async add(subscriptions) {
      for (const s of subscriptions) entries.set(s.id, s);
    },
    async remove(subscriptions) {
      for (const s of subscriptions) entries.delete(s.id);
    },
    async list(filter) {
      const out: ActiveSubscription[] = [];
      for (const s of entries.values()) {
        if (filter.match_type !== undefined && s.match_type !== filter.match_type) continue;
        if (filter.match !== undefined && s.match !== filter.match) continue;
        if (filter.subscriber !== undefined && s.subscriber !== filter.subscriber) continue;
        out.push(s);
      }
      return out;
    },
    async close() {
      entries.clear();
    },
  };
}

/**
 * A subscription as its events carry it, with `active` set: built field by field, in the protocol's
 * order (a spread cost each event several µs).
 */
function subscriptionObject(s: ActiveSubscription, active: boolean): ActiveSubscription {
  const { id, type, match_type, match, subscriber, payload } = s;
  return payload === undefined
    ? { id, type, match_type, match, subscriber, active }
    : { id, type, match_type, match, subscriber, active, payload };
}

/** The private `event: mercure` update announcing a subscription start (`active`) or end. */
export function subscriptionUpdate(subscription: ActiveSubscription, active: boolean): UpdateInput {
  return {
    topics: [subscription.id],
    data: JSON.stringify(subscriptionObject(subscription, active)),
    private: true,
    type: 'mercure',
  };
}
