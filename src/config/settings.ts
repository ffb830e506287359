/**
 * The settings table: every setting with its environment variable, flag, kind, bounds, default and
 * documentation, in one place. `--help`, the README's table and the parser are all generated from it.
 */

import type { RetentionRule } from './retention.ts';

export type Kind = 'string' | 'integer' | 'boolean' | 'list' | 'retention';

export interface Setting<K extends Kind = Kind> {
  /** Environment variable. */
  env: string;
  /** Long CLI flag, without the leading dashes. */
  flag: string;
  kind: K;
  /** Shown in `--help` and the README. */
  doc: string;
  min?: number;
  /** The value when neither a flag nor an environment variable sets it. */
  default?: string | number | boolean | readonly string[] | readonly RetentionRule[];
  /** No default: the value may be undefined. */
  optional?: true;
  /** The only values a string setting takes. */
  choices?: readonly string[];
}

/** Every setting, in the order `--help` lists them. */
export const settings = {
  port: { env: 'PORT', flag: 'port', kind: 'integer', min: 0, doc: 'TCP port to listen on', default: 3000 },
  host: { env: 'HOST', flag: 'host', kind: 'string', doc: 'Interface to bind', default: '0.0.0.0' },
  publicUrl: {
    env: 'SSEHUB_PUBLIC_URL',
    flag: 'public-url',
    kind: 'string',
    optional: true,
    doc: 'Public origin of the hub (e.g. https://hub.example.com); relative topics and URL patterns resolve against it. Default: the origin of --resource when it is an http(s) URL, else the request origin',
  },
  historySize: {
    env: 'SSEHUB_HISTORY_SIZE',
    flag: 'history-size',
    kind: 'integer',
    min: 0,
    doc: 'Updates kept for replay after Last-Event-ID; the oldest go first. A publish whose id is still kept is not stored again (answered with that id)',
    default: 1000,
  },
  historyBytes: {
    env: 'SSEHUB_HISTORY_BYTES',
    flag: 'history-bytes',
    kind: 'integer',
    min: 0,
    doc: 'Bytes of updates kept for replay (topics, id, type and data); the oldest go first. Subscription events are kept apart, under the same two bounds, so that they never evict application updates',
    default: 32 * 1024 * 1024,
  },
  historyAge: {
    env: 'SSEHUB_HISTORY_AGE',
    flag: 'history-age',
    kind: 'integer',
    min: 0,
    doc: 'Seconds an update is kept for replay, 0 for no age bound; subscription events and rules that set no age use it too',
    default: 0,
  },
  retention: {
    env: 'SSEHUB_RETENTION',
    flag: 'retention',
    kind: 'retention',
    doc: 'Topics with history of their own, one lane per topic, so that a busy topic never evicts a quiet one: comma-separated PATTERN=BOUNDS, PATTERN a topic or a prefix ending with * (byte-exact), BOUNDS a count, a size (KiB, MB…) and an age (s, m, h, d) joined by `:`; bounds left out are the global ones. E.g. `/rooms/*=50,/prices/*=1,/logs/*=1000:1MiB:1h` (see docs/history.md)',
    default: [],
  },
  historyFile: {
    env: 'SSEHUB_HISTORY_FILE',
    flag: 'history-file',
    kind: 'string',
    doc: 'SQLite file that keeps history across restarts and crashes (Node, Bun, Deno; created when missing, relative to the working directory); `:memory:` keeps history in memory only, lost at restart. Not used with --redis-url. One hub per file',
    default: 'ssehub.db',
  },
  historySync: {
    env: 'SSEHUB_HISTORY_SYNC',
    flag: 'history-sync',
    kind: 'string',
    choices: ['normal', 'full'],
    doc: 'How --history-file commits: `normal` (an answered publish survives a crash or kill -9 of the hub; a power loss may take the last moments) or `full` (it survives a power loss too: every commit waits for the disk, fsync, which holds the hub meanwhile)',
    default: 'normal',
  },
  maxRewind: {
    env: 'SSEHUB_MAX_REWIND',
    flag: 'max-rewind',
    kind: 'integer',
    min: 0,
    doc: 'Largest N of the `rewind=N` subscribe extension, which sends a new subscriber the last N updates it would have received before going live (400 above; see docs/history.md); 0 turns the extension off: the parameter is then ignored, as Mercure says of unknown parameters',
    default: 100,
  },
  heartbeat: {
    env: 'SSEHUB_HEARTBEAT',
    flag: 'heartbeat',
    kind: 'integer',
    min: 1,
    doc: 'Seconds between keep-alive comments on idle streams',
    default: 15,
  },
  retry: {
    env: 'SSEHUB_RETRY',
    flag: 'retry',
    kind: 'integer',
    min: 0,
    doc: 'Reconnection delay (ms) sent to subscribers as the first `retry:` field',
    default: 2000,
  },
  maxQueueBytes: {
    env: 'SSEHUB_MAX_QUEUE_BYTES',
    flag: 'max-queue-bytes',
    kind: 'integer',
    min: 1024,
    doc: 'Backlog a subscriber may fall behind before it is closed (it resumes with Last-Event-ID)',
    default: 1024 * 1024,
  },
  maxBodyBytes: {
    env: 'SSEHUB_MAX_BODY_BYTES',
    flag: 'max-body-bytes',
    kind: 'integer',
    min: 1,
    doc: 'Largest publish request body (413 above)',
    default: 1024 * 1024,
  },
  maxTopics: {
    env: 'SSEHUB_MAX_TOPICS',
    flag: 'max-topics',
    kind: 'integer',
    min: 1,
    doc: 'Most topics in one update (413 above)',
    default: 32,
  },
  maxTopicLength: {
    env: 'SSEHUB_MAX_TOPIC_LENGTH',
    flag: 'max-topic-length',
    kind: 'integer',
    min: 1,
    doc: 'Longest topic, in characters (413 above)',
    default: 2048,
  },
  maxIdBytes: {
    env: 'SSEHUB_MAX_ID_BYTES',
    flag: 'max-id-bytes',
    kind: 'integer',
    // Hub-generated ids are cursors too, whatever this bound: `urn:uuid:…` is 45 bytes.
    min: 64,
    doc: 'Longest publisher-chosen update id, in UTF-8 bytes (413 above); also the longest Last-Event-ID looked up',
    default: 512,
  },
  maxMatchers: {
    env: 'SSEHUB_MAX_MATCHERS',
    flag: 'max-matchers',
    kind: 'integer',
    min: 1,
    doc: 'Most topic matchers in one subscription request (400 above)',
    default: 64,
  },
  maxMatcherLength: {
    env: 'SSEHUB_MAX_MATCHER_LENGTH',
    flag: 'max-matcher-length',
    kind: 'integer',
    min: 1,
    doc: 'Longest topic matcher or URL pattern, in characters (400 above)',
    default: 1024,
  },
  maxPatterns: {
    env: 'SSEHUB_MAX_PATTERNS',
    flag: 'max-patterns',
    kind: 'integer',
    min: 1,
    doc: 'Most distinct URL patterns (and legacy URI templates) the subscribers of this instance may hold at once (429 above). Every update is tested against each, so this bounds the matching work of one update (see docs/security.md)',
    default: 1000,
  },
  jwtKey: {
    env: 'SSEHUB_JWT_KEY',
    flag: 'jwt-key',
    kind: 'string',
    optional: true,
    doc: 'HS256 secret shared with the application that mints tokens (publishers and subscribers); shortcut for one trusted issuer, see --issuer',
  },
  issuer: {
    env: 'SSEHUB_ISSUER',
    flag: 'issuer',
    kind: 'string',
    optional: true,
    doc: 'The `iss` that tokens signed with --jwt-key carry. Default: the hub origin (--public-url, else the origin of --resource, else the request origin)',
  },
  resource: {
    env: 'SSEHUB_RESOURCE',
    flag: 'resource',
    kind: 'string',
    optional: true,
    doc: "The hub's resource identifier, which every token's `aud` must contain; without --public-url it must be an http(s) URL, whose origin relative topics resolve against. Default: the public URL (else the request origin) + /.well-known/mercure",
  },
  issuers: {
    env: 'SSEHUB_ISSUERS',
    flag: 'issuers',
    kind: 'string',
    optional: true,
    doc: 'Trusted issuers and their keys as inline JSON (see docs/authorization.md); adds to --jwt-key',
  },
  issuersFile: {
    env: 'SSEHUB_ISSUERS_FILE',
    flag: 'issuers-file',
    kind: 'string',
    optional: true,
    doc: 'Path of a JSON file of trusted issuers and their keys (Node, Bun, Deno); same shape as --issuers',
  },
  cookieName: {
    env: 'SSEHUB_COOKIE_NAME',
    flag: 'cookie-name',
    kind: 'string',
    doc: 'Cookie that may carry the access token (EventSource cannot send headers)',
    default: '__Secure-mercure_access_token',
  },
  corsOrigins: {
    env: 'SSEHUB_CORS_ORIGINS',
    flag: 'cors-origins',
    kind: 'list',
    doc: 'Origins allowed to call the hub from a browser with credentials (comma-separated, e.g. https://app.example.com); never *. Cookie-authenticated publishes and room state changes are accepted only from these and the hub origin',
    default: [],
  },
  maxConnections: {
    env: 'SSEHUB_MAX_CONNECTIONS',
    flag: 'max-connections',
    kind: 'integer',
    min: 0,
    doc: 'Most open subscriber streams on this instance, 0 for no limit (429 above)',
    default: 0,
  },
  maxConnectionsPerClient: {
    env: 'SSEHUB_MAX_CONNECTIONS_PER_CLIENT',
    flag: 'max-connections-per-client',
    kind: 'integer',
    min: 0,
    doc: 'Most open streams per token subject (`sub`), else per client address, 0 for no limit (429 above)',
    default: 0,
  },
  // Operator controls (docs/operations.md): rate limits, connection lifetime, drain, admin API,
  // webhooks, logs.
  rateLimitPublish: {
    env: 'SSEHUB_RATE_LIMIT_PUBLISH',
    flag: 'rate-limit-publish',
    kind: 'string',
    optional: true,
    doc: 'Publishes per token subject (`sub`), else per client address, as a token bucket `N/period` (e.g. `20/10s`: bursts of 20, then 2 a second); 429 with Retry-After above. Shared by every instance on Redis. Default: no limit',
  },
  rateLimitSubscribe: {
    env: 'SSEHUB_RATE_LIMIT_SUBSCRIBE',
    flag: 'rate-limit-subscribe',
    kind: 'string',
    optional: true,
    doc: 'New subscriptions (and room joins) per token subject, else per client address, as a token bucket `N/period` (e.g. `10/1m`); 429 with Retry-After above. Default: no limit',
  },
  rateLimitRoomMessages: {
    env: 'SSEHUB_RATE_LIMIT_ROOM_MESSAGES',
    flag: 'rate-limit-room-messages',
    kind: 'string',
    optional: true,
    doc: 'Messages (signals, broadcasts, state changes) per room peer, as a token bucket `N/period` (e.g. `50/1s`); 429 with Retry-After above. Default: no limit',
  },
  maxConnectionAge: {
    env: 'SSEHUB_MAX_CONNECTION_AGE',
    flag: 'max-connection-age',
    kind: 'integer',
    min: 0,
    doc: 'Seconds after which a stream is closed (at a random point of its last tenth, so reconnects spread); the client resumes with Last-Event-ID and its current token, so revoked grants and rotated keys take effect. 0 for no limit',
    default: 0,
  },
  drainSeconds: {
    env: 'SSEHUB_DRAIN_SECONDS',
    flag: 'drain-seconds',
    kind: 'integer',
    min: 0,
    doc: 'On SIGTERM, end the open streams spread over this many seconds (with a `retry:` that spreads reconnects too) while /healthz answers 503; 0 ends them all at once (Node, Bun, Deno)',
    default: 0,
  },
  adminKey: {
    env: 'SSEHUB_ADMIN_KEY',
    flag: 'admin-key',
    kind: 'string',
    optional: true,
    doc: 'Bearer key of the admin API under /admin/ (topics, subscribers, disconnect, revoke; see docs/operations.md) and of `ssehub admin`. Default: the admin API is off (unless --admin-tokens)',
  },
  adminTokens: {
    env: 'SSEHUB_ADMIN_TOKENS',
    flag: 'admin-tokens',
    kind: 'boolean',
    doc: 'Also open the admin API to access tokens of the trusted issuers that carry an `authorization_details` entry of type `urn:ssehub:admin` (actions `read`, `disconnect`, `revoke`)',
    default: false,
  },
  metricsKey: {
    env: 'SSEHUB_METRICS_KEY',
    flag: 'metrics-key',
    kind: 'string',
    optional: true,
    doc: 'Bearer key that GET /metrics then requires (401 without it; Prometheus: `authorization: { credentials: … }`). Default: /metrics is public',
  },
  webhookUrl: {
    env: 'SSEHUB_WEBHOOK_URL',
    flag: 'webhook-url',
    kind: 'string',
    optional: true,
    doc: 'Where to POST Standard Webhooks events (subscriptions, room joins and leaves, topics occupied and vacated; see docs/operations.md), signed with --webhook-secret. Each event is sent once, whichever instance sees it. Default: no webhooks',
  },
  webhookSecret: {
    env: 'SSEHUB_WEBHOOK_SECRET',
    flag: 'webhook-secret',
    kind: 'string',
    optional: true,
    doc: 'Signing secret of the webhooks, `whsec_` followed by base64 (Standard Webhooks); required with --webhook-url',
  },
  webhookEvents: {
    env: 'SSEHUB_WEBHOOK_EVENTS',
    flag: 'webhook-events',
    kind: 'list',
    doc: 'Event types to send (comma-separated, among subscription.active, subscription.inactive, room.joined, room.left, topic.occupied, topic.vacated). Default: all',
    default: [],
  },
  webhookQueue: {
    env: 'SSEHUB_WEBHOOK_QUEUE',
    flag: 'webhook-queue',
    kind: 'integer',
    min: 1,
    doc: 'Most webhook events waiting for delivery on an instance; newer ones are dropped (and counted) above',
    default: 10000,
  },
  webhookAttempts: {
    env: 'SSEHUB_WEBHOOK_ATTEMPTS',
    flag: 'webhook-attempts',
    kind: 'integer',
    min: 1,
    doc: 'Delivery attempts of one webhook event before it is dropped (and counted as failed)',
    default: 8,
  },
  webhookBackoff: {
    env: 'SSEHUB_WEBHOOK_BACKOFF',
    flag: 'webhook-backoff',
    kind: 'integer',
    min: 10,
    doc: 'Delay (ms) before the first retry of a webhook; each further retry waits twice as long (with jitter), at most 10 minutes',
    default: 1000,
  },
  logFormat: {
    env: 'SSEHUB_LOG_FORMAT',
    flag: 'log-format',
    kind: 'string',
    doc: 'Log lines as `text`, or `json` (one object per line: time, level, msg and fields)',
    default: 'text',
  },
  subscriptionEvents: {
    env: 'SSEHUB_SUBSCRIPTION_EVENTS',
    flag: 'subscription-events',
    kind: 'boolean',
    doc: 'Publish a private subscription event on every subscribe and unsubscribe (presence), and serve the Subscription API',
    default: true,
  },
  legacy: {
    env: 'SSEHUB_LEGACY',
    flag: 'legacy',
    kind: 'boolean',
    doc: 'Also speak the pre-standardization Mercure dialect: `mercure` claim, any signed JWT, `topic=`, `lastEventID`, `mercureAuthorization` cookie, `authorization` query parameter',
    default: false,
  },
  allowAnonymousPublish: {
    env: 'SSEHUB_ALLOW_ANONYMOUS_PUBLISH',
    flag: 'allow-anonymous-publish',
    kind: 'boolean',
    doc: 'Development only: anyone may publish without a token',
    default: false,
  },
  allowAnonymousSubscribe: {
    env: 'SSEHUB_ALLOW_ANONYMOUS_SUBSCRIBE',
    flag: 'allow-anonymous-subscribe',
    kind: 'boolean',
    doc: 'Subscribers without a token may connect (they get public updates only)',
    default: true,
  },
  redisUrl: {
    env: 'SSEHUB_REDIS_URL',
    flag: 'redis-url',
    kind: 'string',
    optional: true,
    doc: 'Redis (>= 6) to share one hub between several instances, e.g. redis://127.0.0.1:6379 (Node, Bun, Deno); history then lives in Redis. Default: one instance, history in --history-file',
  },
  redisKey: {
    env: 'SSEHUB_REDIS_KEY',
    flag: 'redis-key',
    kind: 'string',
    doc: 'Prefix of the Redis keys, so several hubs can share one Redis',
    default: 'ssehub',
  },
  presenceTtl: {
    env: 'SSEHUB_PRESENCE_TTL',
    flag: 'presence-ttl',
    kind: 'integer',
    min: 1,
    doc: 'With Redis: seconds without a heartbeat after which an instance counts as dead; the others then announce its subscriptions `active: false` and drop them from the Subscription API',
    default: 15,
  },
  shards: {
    env: 'SSEHUB_SHARDS',
    flag: 'shards',
    kind: 'integer',
    min: 1,
    doc: 'Cloudflare Workers: topic shards, each a Durable Object with its own history and order (at most 64). 1 is the single hub object; with more (or with --relays) each room also gets an object of its own. See docs/workers-scaling.md',
    default: 1,
  },
  shardRules: {
    env: 'SSEHUB_SHARD_RULES',
    flag: 'shard-rules',
    kind: 'list',
    doc: 'Cloudflare Workers: topics pinned to a shard, comma-separated PATH=SHARD, PATH a topic path or a prefix ending with * (e.g. `/orders/*=0,/stats=1`); a URL pattern under such a prefix then stays in one shard. Other topics go by a hash of their path',
    default: [],
  },
  relays: {
    env: 'SSEHUB_RELAYS',
    flag: 'relays',
    kind: 'integer',
    min: 0,
    doc: 'Cloudflare Workers: relay objects, the fan-out tier: each holds subscriber streams and one upstream stream per shard, so a shard writes an update once per relay. 0: subscriptions go straight to their shard, and those spanning shards are merged by one relay',
    default: 0,
  },
  relayStreams: {
    env: 'SSEHUB_RELAY_STREAMS',
    flag: 'relay-streams',
    kind: 'integer',
    min: 1,
    doc: 'Cloudflare Workers: most subscriber streams one relay object holds; past it the Worker tries the next relays, then answers 503',
    default: 1000,
  },
  rooms: {
    env: 'SSEHUB_ROOMS',
    flag: 'rooms',
    kind: 'string',
    optional: true,
    doc: "Who may join WebRTC rooms (`POST /rooms/{room}/join`, see docs/rooms.md): `open` (anyone), `token` (holders of the application's JWT, see --rooms-issuers) or `off`. Default: `open` with --dev, else `off`",
  },
  roomsKey: {
    env: 'SSEHUB_ROOMS_KEY',
    flag: 'rooms-key',
    kind: 'string',
    optional: true,
    doc: "HS256 secret the hub signs peer tokens with (trusted for the hub's own issuer). Default: --jwt-key",
  },
  roomsIssuers: {
    env: 'SSEHUB_ROOMS_ISSUERS',
    flag: 'rooms-issuers',
    kind: 'string',
    optional: true,
    doc: 'With --rooms token: issuers and keys of the application tokens that admit peers, as JSON (same shape as --issuers); a token names its rooms in a `rooms` claim',
  },
  roomsAudience: {
    env: 'SSEHUB_ROOMS_AUDIENCE',
    flag: 'rooms-audience',
    kind: 'string',
    optional: true,
    doc: "With --rooms token: the `aud` application tokens must contain. Default: the hub's resource identifier",
  },
  roomsTokenTtl: {
    env: 'SSEHUB_ROOMS_TOKEN_TTL',
    flag: 'rooms-token-ttl',
    kind: 'integer',
    min: 10,
    doc: 'Lifetime of peer tokens, in seconds; clients renew theirs before it ends',
    default: 600,
  },
  roomsMaxPeers: {
    env: 'SSEHUB_ROOMS_MAX_PEERS',
    flag: 'rooms-max-peers',
    kind: 'integer',
    min: 1,
    doc: 'Most peers in one room (409 above); a video call is a full mesh, so keep it small',
    default: 8,
  },
  roomsMaxMessageBytes: {
    env: 'SSEHUB_ROOMS_MAX_MESSAGE_BYTES',
    flag: 'rooms-max-message-bytes',
    kind: 'integer',
    min: 1024,
    doc: 'Largest message, signaling batch or state patch in a room, in bytes (413 above)',
    default: 64 * 1024,
  },
  roomsMaxStateBytes: {
    env: 'SSEHUB_ROOMS_MAX_STATE_BYTES',
    flag: 'rooms-max-state-bytes',
    kind: 'integer',
    min: 1024,
    doc: 'Largest shared state of a room, in bytes of JSON (413 for a patch that would exceed it); also the largest Yjs document of a room, in bytes of its encoded state',
    default: 256 * 1024,
  },
  stunUrls: {
    env: 'SSEHUB_STUN_URLS',
    flag: 'stun-urls',
    kind: 'list',
    doc: 'STUN servers handed to room peers in the join answer (comma-separated, e.g. stun:stun.example.com:3478)',
    default: [],
  },
  turnUrls: {
    env: 'SSEHUB_TURN_URLS',
    flag: 'turn-urls',
    kind: 'list',
    doc: 'TURN servers handed to room peers with credentials minted from --turn-secret (comma-separated, e.g. turn:turn.example.com:3478?transport=udp)',
    default: [],
  },
  turnSecret: {
    env: 'SSEHUB_TURN_SECRET',
    flag: 'turn-secret',
    kind: 'string',
    optional: true,
    doc: "Secret shared with the TURN server (coturn's static-auth-secret with use-auth-secret): each peer gets the username `expiry:peer` and the base64 HMAC-SHA1 of it as credential",
  },
  turnTtl: {
    env: 'SSEHUB_TURN_TTL',
    flag: 'turn-ttl',
    kind: 'integer',
    min: 10,
    doc: 'Lifetime of TURN credentials, in seconds; clients renew theirs with their peer token',
    default: 86400,
  },
  turnCloudflareKeyId: {
    env: 'SSEHUB_TURN_CLOUDFLARE_KEY_ID',
    flag: 'turn-cloudflare-key-id',
    kind: 'string',
    optional: true,
    doc: "Cloudflare TURN: the TURN key id; with --turn-cloudflare-token, peers get credentials from Cloudflare's API (shared, renewed at half their --turn-ttl)",
  },
  turnCloudflareToken: {
    env: 'SSEHUB_TURN_CLOUDFLARE_TOKEN',
    flag: 'turn-cloudflare-token',
    kind: 'string',
    optional: true,
    doc: 'Cloudflare TURN: the API token of the TURN key',
  },
  dev: {
    env: 'SSEHUB_DEV',
    flag: 'dev',
    kind: 'boolean',
    doc: 'Development mode: generates a key when none is configured and prints a publisher and a subscriber token valid one hour',
    default: false,
  },
} as const satisfies Record<string, Setting>;

export type Settings = typeof settings;
type BaseValue<K extends Kind> = K extends 'integer'
  ? number
  : K extends 'boolean'
    ? boolean
    : K extends 'list'
      ? string[]
      : K extends 'retention'
        ? RetentionRule[]
        : string;
type ValueOf<S extends Setting> = S extends { optional: true }
  ? BaseValue<S['kind']> | undefined
  : BaseValue<S['kind']>;

/** The parsed configuration: every setting typed, defaults applied. */
export type Config = { -readonly [K in keyof Settings]: ValueOf<Settings[K]> };

/** Defaults for every setting (from the table above); what `npm start` runs with. */
export const defaults: Config = Object.fromEntries(
  Object.entries(settings).map(([key, setting]) => {
    const value: unknown = 'default' in setting ? setting.default : undefined;
    return [key, Array.isArray(value) ? [...value] : value];
  }),
) as unknown as Config;
