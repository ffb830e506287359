/**
 * How long the hub keeps updates for replay: application updates in the default lane, and the hub's
 * own subscription events (presence) in a lane of their own, under the same bounds, so that clients
 * connecting and disconnecting (which anyone may do) can never evict application history.
 */
import type { Retention } from '../brokers/index.ts';
import type { Config } from '../config/index.ts';

/** The retention lane of subscription events. */
export const PRESENCE_LANE = 'presence';

/** Where subscription events live: `{hubPath}/subscriptions/…`. */
export const presencePrefix = (hubPath: string): string => `${hubPath}/subscriptions/`;

/**
 * The retention of a hub at `hubPath`: `historySize` updates and `historyBytes` bytes of application
 * updates, and as much again of subscription events.
 */
export function retentionOf(
  settings: Pick<Config, 'historySize' | 'historyBytes'>,
  hubPath: string,
): Retention {
  const limits = { maxCount: settings.historySize, maxBytes: settings.historyBytes };
  return {
    updates: limits,
    lanes: [{ name: PRESENCE_LANE, prefix: presencePrefix(hubPath), ...limits }],
  };
}
