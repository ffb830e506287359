/**
 * Admin grants in access tokens: an `authorization_details` entry (RFC 9396) of ssehub's own type,
 * `urn:ssehub:admin`, whose `actions` name what the holder may do through the admin API. Entries of
 * this type are ignored by the Mercure grants (they are for another "resource", the admin API), and
 * honoured only when the operator turns admin tokens on (`SSEHUB_ADMIN_TOKENS`).
 *
 * @example
 * { "type": "urn:ssehub:admin", "actions": ["read", "disconnect", "revoke"] }
 */

/** The `type` of ssehub's admin authorization details. */
export const ADMIN_DETAIL_TYPE = 'urn:ssehub:admin';

/** What the admin API lets one do: list, close streams, revoke tokens. */
export const ADMIN_ACTIONS = ['read', 'disconnect', 'revoke'] as const;
export type AdminAction = (typeof ADMIN_ACTIONS)[number];

/** The admin actions `authorization_details` grants, or undefined when it grants none. */
export function adminActions(details: unknown): AdminAction[] | undefined {
  if (!Array.isArray(details)) return undefined;
  const out = new Set<AdminAction>();
  for (const entry of details) {
    if (typeof entry !== 'object' || entry === null) continue;
    const { type, actions } = entry as { type?: unknown; actions?: unknown };
    if (type !== ADMIN_DETAIL_TYPE || !Array.isArray(actions)) continue;
    for (const action of actions) {
      if ((ADMIN_ACTIONS as readonly unknown[]).includes(action)) out.add(action as AdminAction);
    }
  }
  return out.size > 0 ? [...out] : undefined;
}
