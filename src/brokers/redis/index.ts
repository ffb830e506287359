/**
 * The Redis drivers: one hub over several instances (Node, Bun and Deno, through ioredis). Imported
 * only when Redis is configured, so a single instance never loads the client.
 */
export { createRedisBroker, type RedisBrokerOptions } from './broker.ts';
export {
  createRedisOperations,
  type RedisOperations,
  type RedisOperationsOptions,
} from './operations.ts';
export { createRedisRegistry, type RedisRegistryOptions } from './registry.ts';
