/**
 * The Mercure hub as a Hono app over a broker: publish, subscribe with replay, authorization, active
 * subscriptions, discovery, limits. What the layers above it (rooms, the app, the runtime entries) and
 * applications that embed the hub use.
 */

export { ADMIN_ACTIONS, ADMIN_DETAIL_TYPE, type AdminAction } from './admin-grants.ts';
export { createHub, HUB_PATH, type Hub, type HubOptions, type HubSettings } from './app.ts';
export {
  type Authorizer,
  anyone,
  challenge,
  cookie,
  insufficientScope,
  metadataUrl,
  type Principal,
  unauthorized,
} from './auth.ts';
export { cors, parseOrigins } from './cors.ts';
export { type DiscoveryOptions, mercureDiscovery, mercureLink } from './discovery.ts';
export { badRequest, errorResponse, HubError, type HubErrorCode, notFound } from './errors.ts';
export { type FormFields, parseForm, parseQuery, readBody } from './form.ts';
export { fromHeaderValue, toHeaderValue, utf8Length } from './header-values.ts';
export { PRESENCE_LANE, presencePrefix, retentionOf } from './history.ts';
export { configuredHubUrl, type HubUrlSettings, type HubUrls, hubUrls } from './hub-url.ts';
export {
  type IssuerConfig,
  type KeyConfig,
  type KeyUse,
  type LoadedIssuer,
  type LoadedKey,
  loadIssuers,
  parseIssuers,
  SUPPORTED_ALGORITHMS,
} from './issuers.ts';
export { ConnectionLimiter, type ConnectionLimits } from './limits.ts';
export type { MatchType, Subscription } from './matchers.ts';
export type { LoopDelay, ProcessStats } from './metrics.ts';
export { metricsGuard } from './metrics.ts';
export type { Operations, OperationsBackends, OperationsSettings } from './operations.ts';
export { type LimitKind, parseRate, RateLimits } from './rate-limit.ts';
export { laneConcerns } from './subscribe.ts';
export { encodeSegment, subscriptionTopic } from './subscriptions.ts';
export { authorizationDetails, devTokens, type MintOptions, mintToken, type TopicGrant } from './tokens.ts';
export type { SignatureCheck } from './verify.ts';
export { WEBHOOK_EVENTS, type WebhookEventType } from './webhooks.ts';
