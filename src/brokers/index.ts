/**
 * The backends of the hub, as small driver interfaces with one contract suite each: the broker (how
 * updates get an id and an order, reach every instance and are kept for replay) and the subscription
 * registry (active subscriptions). Drivers here speak Web APIs only: memory, SQLite (the durable
 * default, over a synchronous SQL driver the runtime hands in) and the Durable Object's storage. The Redis drivers, which need a TCP client, are `./redis/index.ts`.
 */
export {
  type ControlMessage,
  type ControlPlane,
  createMemoryControl,
  type Revocation,
  type RevocationStore,
  revocationKey,
  sqlRevocationStore,
} from './control.ts';
export {
  createDurableObjectBroker,
  type DurableObjectBrokerOptions,
  type DurableObjectStorageLike,
} from './durable-object.ts';
export { createMemoryBroker, type MemoryBrokerOptions } from './memory.ts';
export {
  createMemoryRateLimits,
  hashKey,
  type MemoryRateLimitOptions,
  type Rate,
  type RateLimitStore,
} from './rate-limits.ts';
export {
  type ActiveSubscription,
  createMemoryRegistry,
  type SubscriptionFilter,
  type SubscriptionRegistry,
  subscriptionUpdate,
} from './registry.ts';
export {
  durableObjectSql,
  type SqlDriver,
  type SqlRow,
  type SqlStatement,
  type SqlStorageLike,
  type SqlValue,
} from './sql.ts';
export { createSqliteBroker, type SqliteBrokerOptions } from './sqlite.ts';
export { connectionPragmas, SCHEMA, SCHEMA_VERSION, type SyncLevel } from './sqlite-schema.ts';
export {
  type Broker,
  comparePos,
  countRetention,
  DEFAULT_LANE,
  EARLIEST,
  generateId,
  type HistoryPage,
  type HistoryResult,
  isHubEvent,
  type Lane,
  type LaneLimits,
  laneFor,
  laneOf,
  limitsOf,
  maxAgeOf,
  type Retention,
  ruleOfTopicLane,
  stamp,
  topicLane,
  topicOfLane,
  type Update,
  type UpdateInput,
  type UpdateListener,
  weightOf,
} from './types.ts';
export { createMemoryLedger, type WebhookLedger } from './webhook-ledger.ts';
