/**
 * How long the hub keeps updates for replay: application updates in the default lane; the hub's own
 * subscription events (presence) in a lane of their own, under the same bounds, so that clients
 * connecting and disconnecting (which anyone may do) can never evict application history; and, for
 * the topics a retention rule takes, one lane per topic under the rule's bounds, so that a busy topic
 * never evicts a quiet one's history (see docs/history.md).
 */
import type { Lane, LaneLimits, Retention } from '../brokers/index.ts';
import type { Config } from '../config/index.ts';

/** The retention lane of subscription events. */
export const PRESENCE_LANE = 'presence';

/** Where subscription events live: `{hubPath}/subscriptions/…`. */
export const presencePrefix = (hubPath: string): string => `${hubPath}/subscriptions/`;

/**
 * The retention of a hub at `hubPath`: `historySize` updates, `historyBytes` bytes and `historyAge`
 * seconds of application updates, as much again of subscription events, and a lane per topic for the
 * topics of each retention rule, under the rule's bounds (the global ones where it sets none).
 *
 * @example
 * retentionOf({ ...defaults, retention: parseRetentionRules('/rooms/*=50', HUB_PATH) }, HUB_PATH);
 */
export function retentionOf(
  settings: Pick<Config, 'historySize' | 'historyBytes'> & Partial<Pick<Config, 'historyAge' | 'retention'>>,
  hubPath: string,
): Retention {
  const limits: LaneLimits = {
    maxCount: settings.historySize,
    maxBytes: settings.historyBytes,
    maxAgeMs: (settings.historyAge ?? 0) * 1000,
  };
  const rules = (settings.retention ?? []).map(
    (rule): Lane => ({
      name: rule.pattern,
      prefix: rule.prefix,
      exact: rule.exact,
      perTopic: true,
      maxCount: rule.maxCount ?? limits.maxCount,
      maxBytes: rule.maxBytes ?? limits.maxBytes,
      maxAgeMs: rule.maxAge === undefined ? limits.maxAgeMs : rule.maxAge * 1000,
    }),
  );
  // Presence first: no rule can take the hub's own topics (the settings refuse such rules anyway).
  return {
    updates: limits,
    // In memory only: the subscriptions they describe end with the process, so a durable history
    // would replay stale presence after a restart, and an anonymous subscriber could make the hub
    // write to disk.
    lanes: [{ name: PRESENCE_LANE, prefix: presencePrefix(hubPath), volatile: true, ...limits }, ...rules],
  };
}
