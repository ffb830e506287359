/**
 * The one typed configuration object, parsed once from CLI flags and environment variables (flags
 * win). Pure: runtimes pass in their argv and env; nothing reads `process.env` elsewhere.
 * The settings table below is also the source of `--help` and of the README's settings table.
 */

type Kind = 'string' | 'integer' | 'boolean' | 'list';

interface Setting<K extends Kind = Kind> {
  /** Environment variable. */
  env: string;
  /** Long CLI flag, without the leading dashes. */
  flag: string;
  kind: K;
  /** Shown in `--help` and the README. */
  doc: string;
  min?: number;
  /** No default: the value may be undefined. */
  optional?: true;
}

/** Every setting, in the order `--help` lists them. */
export const settings = {
  port: { env: 'PORT', flag: 'port', kind: 'integer', min: 0, doc: 'TCP port to listen on' },
  host: { env: 'HOST', flag: 'host', kind: 'string', doc: 'Interface to bind' },
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
    doc: 'Updates kept for replay after Last-Event-ID; the oldest go first',
  },
  historyBytes: {
    env: 'SSEHUB_HISTORY_BYTES',
    flag: 'history-bytes',
    kind: 'integer',
    min: 0,
    doc: 'Bytes of updates kept for replay (topics, id, type and data); the oldest go first. Subscription events are kept apart, under the same two bounds, so that they never evict application updates',
  },
  heartbeat: {
    env: 'SSEHUB_HEARTBEAT',
    flag: 'heartbeat',
    kind: 'integer',
    min: 1,
    doc: 'Seconds between keep-alive comments on idle streams',
  },
  retry: {
    env: 'SSEHUB_RETRY',
    flag: 'retry',
    kind: 'integer',
    min: 0,
    doc: 'Reconnection delay (ms) sent to subscribers as the first `retry:` field',
  },
  maxQueueBytes: {
    env: 'SSEHUB_MAX_QUEUE_BYTES',
    flag: 'max-queue-bytes',
    kind: 'integer',
    min: 1024,
    doc: 'Backlog a subscriber may fall behind before it is closed (it resumes with Last-Event-ID)',
  },
  maxBodyBytes: {
    env: 'SSEHUB_MAX_BODY_BYTES',
    flag: 'max-body-bytes',
    kind: 'integer',
    min: 1,
    doc: 'Largest publish request body (413 above)',
  },
  maxTopics: {
    env: 'SSEHUB_MAX_TOPICS',
    flag: 'max-topics',
    kind: 'integer',
    min: 1,
    doc: 'Most topics in one update (413 above)',
  },
  maxTopicLength: {
    env: 'SSEHUB_MAX_TOPIC_LENGTH',
    flag: 'max-topic-length',
    kind: 'integer',
    min: 1,
    doc: 'Longest topic, in characters (413 above)',
  },
  maxIdBytes: {
    env: 'SSEHUB_MAX_ID_BYTES',
    flag: 'max-id-bytes',
    kind: 'integer',
    // Hub-generated ids are cursors too, whatever this bound: `urn:uuid:…` is 45 bytes.
    min: 64,
    doc: 'Longest publisher-chosen update id, in UTF-8 bytes (413 above); also the longest Last-Event-ID looked up',
  },
  maxMatchers: {
    env: 'SSEHUB_MAX_MATCHERS',
    flag: 'max-matchers',
    kind: 'integer',
    min: 1,
    doc: 'Most topic matchers in one subscription request (400 above)',
  },
  maxMatcherLength: {
    env: 'SSEHUB_MAX_MATCHER_LENGTH',
    flag: 'max-matcher-length',
    kind: 'integer',
    min: 1,
    doc: 'Longest topic matcher or URL pattern, in characters (400 above)',
  },
  maxPatterns: {
    env: 'SSEHUB_MAX_PATTERNS',
    flag: 'max-patterns',
    kind: 'integer',
    min: 1,
    doc: 'Most distinct URL patterns (and legacy URI templates) the subscribers of this instance may hold at once (429 above). Every update is tested against each, so this bounds the matching work of one update (see docs/security.md)',
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
  },
  corsOrigins: {
    env: 'SSEHUB_CORS_ORIGINS',
    flag: 'cors-origins',
    kind: 'list',
    doc: 'Origins allowed to call the hub from a browser with credentials (comma-separated, e.g. https://app.example.com); never *. Cookie-authenticated publishes and room state changes are accepted only from these and the hub origin',
  },
  maxConnections: {
    env: 'SSEHUB_MAX_CONNECTIONS',
    flag: 'max-connections',
    kind: 'integer',
    min: 0,
    doc: 'Most open subscriber streams on this instance, 0 for no limit (429 above)',
  },
  maxConnectionsPerClient: {
    env: 'SSEHUB_MAX_CONNECTIONS_PER_CLIENT',
    flag: 'max-connections-per-client',
    kind: 'integer',
    min: 0,
    doc: 'Most open streams per token subject (`sub`), else per client address, 0 for no limit (429 above)',
  },
  subscriptionEvents: {
    env: 'SSEHUB_SUBSCRIPTION_EVENTS',
    flag: 'subscription-events',
    kind: 'boolean',
    doc: 'Publish a private subscription event on every subscribe and unsubscribe (presence), and serve the Subscription API',
  },
  legacy: {
    env: 'SSEHUB_LEGACY',
    flag: 'legacy',
    kind: 'boolean',
    doc: 'Also speak the pre-standardization Mercure dialect: `mercure` claim, any signed JWT, `topic=`, `lastEventID`, `mercureAuthorization` cookie, `authorization` query parameter',
  },
  allowAnonymousPublish: {
    env: 'SSEHUB_ALLOW_ANONYMOUS_PUBLISH',
    flag: 'allow-anonymous-publish',
    kind: 'boolean',
    doc: 'Development only: anyone may publish without a token',
  },
  allowAnonymousSubscribe: {
    env: 'SSEHUB_ALLOW_ANONYMOUS_SUBSCRIBE',
    flag: 'allow-anonymous-subscribe',
    kind: 'boolean',
    doc: 'Subscribers without a token may connect (they get public updates only)',
  },
  redisUrl: {
    env: 'SSEHUB_REDIS_URL',
    flag: 'redis-url',
    kind: 'string',
    optional: true,
    doc: 'Redis (>= 6) to share one hub between several instances, e.g. redis://127.0.0.1:6379 (Node, Bun, Deno). Default: in-memory, one instance',
  },
  redisKey: {
    env: 'SSEHUB_REDIS_KEY',
    flag: 'redis-key',
    kind: 'string',
    doc: 'Prefix of the Redis keys, so several hubs can share one Redis',
  },
  presenceTtl: {
    env: 'SSEHUB_PRESENCE_TTL',
    flag: 'presence-ttl',
    kind: 'integer',
    min: 1,
    doc: 'With Redis: seconds without a heartbeat after which an instance counts as dead; the others then announce its subscriptions `active: false` and drop them from the Subscription API',
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
  },
  roomsMaxPeers: {
    env: 'SSEHUB_ROOMS_MAX_PEERS',
    flag: 'rooms-max-peers',
    kind: 'integer',
    min: 1,
    doc: 'Most peers in one room (409 above); a video call is a full mesh, so keep it small',
  },
  roomsMaxMessageBytes: {
    env: 'SSEHUB_ROOMS_MAX_MESSAGE_BYTES',
    flag: 'rooms-max-message-bytes',
    kind: 'integer',
    min: 1024,
    doc: 'Largest message, signaling batch or state patch in a room, in bytes (413 above)',
  },
  roomsMaxStateBytes: {
    env: 'SSEHUB_ROOMS_MAX_STATE_BYTES',
    flag: 'rooms-max-state-bytes',
    kind: 'integer',
    min: 1024,
    doc: 'Largest shared state of a room, in bytes of JSON (413 for a patch that would exceed it)',
  },
  dev: {
    env: 'SSEHUB_DEV',
    flag: 'dev',
    kind: 'boolean',
    doc: 'Development mode: generates a key when none is configured and prints a publisher and a subscriber token valid one hour',
  },
} as const satisfies Record<string, Setting>;

type Settings = typeof settings;
type BaseValue<K extends Kind> = K extends 'integer'
  ? number
  : K extends 'boolean'
    ? boolean
    : K extends 'list'
      ? string[]
      : string;
type ValueOf<S extends Setting> = S extends { optional: true }
  ? BaseValue<S['kind']> | undefined
  : BaseValue<S['kind']>;

/** The parsed configuration: every setting typed, defaults applied. */
export type Config = { -readonly [K in keyof Settings]: ValueOf<Settings[K]> };

/** Defaults for every setting; what `npm start` runs with. */
export const defaults: Config = {
  port: 3000,
  host: '0.0.0.0',
  publicUrl: undefined,
  historySize: 1000,
  historyBytes: 32 * 1024 * 1024,
  heartbeat: 15,
  retry: 2000,
  maxQueueBytes: 1024 * 1024,
  maxBodyBytes: 1024 * 1024,
  maxTopics: 32,
  maxTopicLength: 2048,
  maxIdBytes: 512,
  maxMatchers: 64,
  maxMatcherLength: 1024,
  maxPatterns: 1000,
  jwtKey: undefined,
  issuer: undefined,
  resource: undefined,
  issuers: undefined,
  issuersFile: undefined,
  cookieName: '__Secure-mercure_access_token',
  corsOrigins: [],
  maxConnections: 0,
  maxConnectionsPerClient: 0,
  subscriptionEvents: true,
  legacy: false,
  allowAnonymousPublish: false,
  allowAnonymousSubscribe: true,
  redisUrl: undefined,
  redisKey: 'ssehub',
  presenceTtl: 15,
  rooms: undefined,
  roomsKey: undefined,
  roomsIssuers: undefined,
  roomsAudience: undefined,
  roomsTokenTtl: 600,
  roomsMaxPeers: 8,
  roomsMaxMessageBytes: 64 * 1024,
  roomsMaxStateBytes: 256 * 1024,
  dev: false,
};

/** A bad flag or value; the CLI prints the message and exits with code 2. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Result of parsing: either a config to run with, or a request for help. */
export type ParsedArgs = { help: true } | { help: false; config: Config; positionals: string[] };

/**
 * Parses CLI flags (`--name value`, `--name=value`, `--flag`, `--no-flag`) over environment
 * variables over defaults.
 * @throws {ConfigError} on an unknown flag or a value of the wrong type.
 */
export function parseConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): ParsedArgs {
  const config: Record<string, unknown> = { ...defaults };
  const byFlag = new Map<string, keyof Settings>(
    Object.entries(settings).map(([key, s]) => [s.flag, key as keyof Settings]),
  );
  for (const [key, setting] of Object.entries(settings)) {
    const raw = env[setting.env];
    if (raw !== undefined && raw !== '') config[key] = coerce(setting, raw, setting.env);
  }
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return { help: true };
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    let name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    let negated = false;
    if (!byFlag.has(name) && name.startsWith('no-') && byFlag.has(name.slice(3))) {
      name = name.slice(3);
      negated = true;
    }
    const key = byFlag.get(name);
    if (!key) throw new ConfigError(`unknown option --${name} (see --help)`);
    const setting: Setting = settings[key];
    if (setting.kind === 'boolean') {
      config[key] = negated ? false : eq === -1 ? true : coerce(setting, arg.slice(eq + 1), `--${name}`);
      continue;
    }
    if (negated) throw new ConfigError(`--no-${name} is not valid: --${name} takes a value`);
    const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined) throw new ConfigError(`--${name} needs a value`);
    config[key] = coerce(setting, value, `--${name}`);
  }
  return { help: false, config: config as Config, positionals };
}

function coerce(setting: Setting, raw: string, source: string): unknown {
  switch (setting.kind) {
    case 'integer': {
      if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`${source} must be a whole number, got "${raw}"`);
      const n = Number(raw);
      if (!Number.isSafeInteger(n)) throw new ConfigError(`${source} is too large: "${raw}"`);
      if (setting.min !== undefined && n < setting.min) {
        throw new ConfigError(`${source} must be at least ${setting.min}, got ${n}`);
      }
      if (setting.flag === 'port' && n > 65535) throw new ConfigError(`${source} must be at most 65535`);
      return n;
    }
    case 'boolean': {
      const v = raw.trim().toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(v)) return true;
      if (['0', 'false', 'no', 'off'].includes(v)) return false;
      throw new ConfigError(`${source} must be true or false, got "${raw}"`);
    }
    case 'list':
      return raw
        .split(/[\s,]+/)
        .map((s) => s.trim())
        .filter(Boolean);
    default:
      return raw;
  }
}

/** The `--help` text, generated from the settings table. */
export function helpText(command = 'ssehub'): string {
  const rows = Object.entries(settings).map(([key, s]) => {
    const value = s.kind === 'boolean' ? '' : ' <value>';
    const def = defaults[key as keyof Config];
    const shown = def === undefined ? '' : ` (default: ${Array.isArray(def) ? def.join(',') : def})`;
    return `  --${s.flag}${value}\n      ${s.doc}${shown}. Env: ${s.env}`;
  });
  return `Usage: ${command} [options]\n\nOptions (flags override environment variables):\n${rows.join('\n')}\n  --help\n      Show this help.\n`;
}

/** The README's settings table (Markdown), generated from the settings table above. */
export function settingsMarkdown(): string {
  const rows = Object.entries(settings).map(([key, s]) => {
    const def = defaults[key as keyof Config];
    const shown = def === undefined ? '—' : `\`${Array.isArray(def) ? def.join(',') : def}\``;
    return `| \`${s.env}\` | \`--${s.flag}\` | ${shown} | ${s.doc} |`;
  });
  return ['| Environment | Flag | Default | Meaning |', '| --- | --- | --- | --- |', ...rows].join('\n');
}
