/**
 * Start-up shared by the Node, Bun and Deno entries: parse the settings table, read
 * `--issuers-file`, refuse to run without a key (unless `--dev`), pick the broker (and with Redis the
 * shared presence registry), listen, print the banner (and development tokens), drain on SIGTERM.
 * Each entry supplies only its runtime's glue: serving, the client address, signals, exit.
 */
import type { Context } from 'hono';
import { createApp } from '../app.ts';
import { type Broker, createSqliteBroker, type SqlDriver, type SyncLevel } from '../brokers/index.ts';
import { type Config, ConfigError, helpText, parseConfig } from '../config/index.ts';
import type { IssuerConfig, LoopDelay, ProcessStats, SignatureCheck } from '../hub/index.ts';
import { configuredHubUrl, devTokens, HUB_PATH, type Hub, retentionOf } from '../hub/index.ts';
import { randomKey } from './dev-key.ts';
import { loadIssuersFile } from './issuers-file.ts';
import { installJsonLogs, LOG_FORMATS } from './json-logs.ts';

/** A fetch handler; `env` is whatever the runtime glue passes along (e.g. the client address). */
export type FetchHandler = (request: Request, env?: unknown) => Response | Promise<Response>;

/** What a runtime entry provides. */
export interface RuntimeGlue {
  /** Shown in the banner: `ssehub (bun) listening on …`. */
  name: string;
  /** The command `--help` names. */
  command: string;
  /** The event loop's delay since the previous call, where the runtime measures it (see `HubOptions`). */
  loopDelay?: () => LoopDelay;
  /** The process's CPU, memory and open files, for `/metrics` (see `HubOptions`). */
  processStats?: () => Promise<ProcessStats>;
  /** The process's soft open-file limit, where the runtime can read it: each connection holds one file. */
  openFileLimit?: () => number | undefined;
  /** How the hub schedules fan-out (see `Dispatcher`); e.g. `setImmediate` where the runtime has it. */
  defer?: (flush: () => void) => void;
  /**
   * Opens the SQLite database that keeps history across restarts (`--history-file`), with the
   * runtime's own SQLite binding (see `sqlite.ts`). Without it, history stays in memory.
   */
  openHistory?: (path: string, options: { sync: SyncLevel }) => Promise<SqlDriver>;
  /** Starts the HTTP server; resolves once it listens. */
  serve(
    fetch: FetchHandler,
    options: { port: number; host: string },
  ): Promise<{ port: number; close(): Promise<void> }>;
  /** The client address of a request, from the `env` the server passed to the handler. */
  clientAddress(c: Context): string | undefined;
  /** Synchronous signature checks, where the runtime has them: tokens are then verified without Web Crypto. */
  signatures?: SignatureCheck;
  /** Registers a handler for SIGTERM and SIGINT. */
  onSignal(signal: 'SIGTERM' | 'SIGINT', handler: () => void): void;
  exit(code: number): never;
}

/**
 * Runs the hub until a signal stops it. Returns an exit code when it must not run (bad settings: 2,
 * `--help`: 0); otherwise never settles (the signal handler exits).
 *
 * @example
 * const code = await runHub(Deno.args, Deno.env.toObject(), denoGlue());
 */
export async function runHub(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  glue: RuntimeGlue,
): Promise<number> {
  let parsed: ReturnType<typeof parseConfig>;
  let issuers: IssuerConfig[] = [];
  try {
    parsed = parseConfig(argv, env);
    if (!parsed.help && parsed.config.issuersFile) issuers = loadIssuersFile(parsed.config.issuersFile);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`ssehub: ${error.message}`);
      return 2;
    }
    throw error;
  }
  if (parsed.help) {
    console.log(helpText(glue.command).trimEnd());
    return 0;
  }
  const config: Config = parsed.config;
  if (!(LOG_FORMATS as readonly string[]).includes(config.logFormat)) {
    console.error(`ssehub: SSEHUB_LOG_FORMAT must be text or json, got "${config.logFormat}"`);
    return 2;
  }
  if (config.logFormat === 'json') installJsonLogs();
  if (parsed.positionals.length > 0) {
    console.error(`ssehub: unexpected argument "${parsed.positionals[0]}" (see --help)`);
    return 2;
  }
  const keyed = Boolean(config.jwtKey || config.issuers || issuers.length > 0);
  if (!keyed && !config.allowAnonymousPublish && !config.dev) {
    console.error(
      'ssehub: no key configured. Set SSEHUB_JWT_KEY (or --jwt-key, or trusted issuers with --issuers-file), or run with --dev to try it out.',
    );
    return 2;
  }
  const generated = config.dev && !keyed;
  if (generated) config.jwtKey = randomKey();

  // Redis when several instances share one hub (loaded only then, so a single instance never loads
  // the client); else the SQLite file, as Mercure keeps its history in an embedded database by
  // default; `:memory:` (or a runtime without SQLite) keeps the memory broker.
  const retention = retentionOf(config, HUB_PATH);
  let broker: Broker | undefined;
  if (config.redisUrl) {
    broker = await (await import('../brokers/redis/index.ts')).createRedisBroker({
      url: config.redisUrl,
      key: config.redisKey,
      retention,
    });
  } else if (config.historyFile !== ':memory:' && glue.openHistory) {
    try {
      broker = createSqliteBroker({
        driver: await glue.openHistory(config.historyFile, { sync: config.historySync as SyncLevel }),
        retention,
        defer: glue.defer,
      });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      const hint = /locked|busy/i.test(reason) ? ' (is another hub using it?)' : '';
      console.error(`ssehub: cannot open the history file ${config.historyFile}: ${reason}${hint}`);
      return 1;
    }
  }
  // With Redis, the Subscription API and the expiry of dead instances need the shared registry.
  const registry =
    config.redisUrl && broker && config.subscriptionEvents
      ? await (await import('../brokers/redis/index.ts')).createRedisRegistry({
          url: config.redisUrl!,
          key: config.redisKey,
          ttlSeconds: config.presenceTtl,
          broker,
        })
      : undefined;

  // Rate limits, revocations and webhook claims are shared by every instance through Redis.
  const shared =
    config.redisUrl &&
    (config.rateLimitPublish ||
      config.rateLimitSubscribe ||
      config.rateLimitRoomMessages ||
      config.adminKey ||
      config.adminTokens ||
      config.webhookUrl)
      ? await (await import('../brokers/redis/index.ts')).createRedisOperations({
          url: config.redisUrl,
          key: config.redisKey,
        })
      : undefined;

  // Listen first, so that development mode knows the port its tokens are for.
  let handler: FetchHandler = () => new Response('starting\n', { status: 503 });
  const server = await glue.serve((request, env) => handler(request, env), {
    port: config.port,
    host: config.host,
  });
  const base = `http://localhost:${server.port}`;
  const showTokens = config.dev && Boolean(config.jwtKey);
  if (showTokens && !config.publicUrl && !config.resource && !config.issuer) {
    // Tokens printed for http://localhost:PORT must work however the hub is reached (127.0.0.1, a LAN IP).
    config.issuer = base;
    config.resource = `${base}${HUB_PATH}`;
  }
  let hub: Hub;
  try {
    const built = createApp({
      config,
      broker,
      hub: {
        issuers,
        registry,
        clientAddress: glue.clientAddress,
        ...(glue.signatures ? { signatures: glue.signatures } : {}),
        defer: glue.defer,
        loopDelay: glue.loopDelay,
        processStats: glue.processStats,
        operations: shared,
      },
    });
    handler = built.app.fetch;
    hub = built.hub;
    await hub.ready;
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`ssehub: ${error.message}`);
      await server.close();
      await registry?.close();
      await shared?.close();
      await broker?.close();
      return 2;
    }
    throw error;
  }

  console.log(`ssehub (${glue.name}) listening on ${base}  (hub: ${base}${HUB_PATH})`);
  const kept = config.redisUrl ? 'in Redis' : broker ? `in ${config.historyFile}` : 'in memory only';
  console.log(`History: ${kept}`);
  const crowded = config.dev ? undefined : fileLimitWarning(glue.openFileLimit?.(), config.maxConnections);
  if (crowded) console.warn(`ssehub: ${crowded}`);
  if (showTokens) await printDevTokens(config, base, generated);
  else {
    console.log(`Console: ${base}/`);
    const auth = config.allowAnonymousPublish ? '' : ` -H 'Authorization: Bearer <token>'`;
    console.log(`\nSubscribe:  curl -N '${base}${HUB_PATH}?match=/chat'`);
    console.log(`Publish:    curl${auth} -d topic=/chat -d data=hello ${base}${HUB_PATH}\n`);
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    // Streams end first with a clean end of body, so clients reconnect at once (spread over the drain
    // window, when there is one); then the server waits for the other in-flight requests.
    if (config.drainSeconds > 0) {
      // JSON logs carry the numbers as fields too; text logs say them in the message.
      const fields = (values: Record<string, number>) => (config.logFormat === 'json' ? [values] : []);
      const streams = hub.dispatcher.subscribers.size;
      console.log(
        `ssehub: ${signal} received, draining ${streams} streams over ${config.drainSeconds} s`,
        ...fields({ streams, seconds: config.drainSeconds }),
      );
      await hub.drain(config.drainSeconds * 1000, (left, total, msLeft) =>
        console.log(
          `ssehub: draining: ${left} of ${total} streams left, ${Math.ceil(msLeft / 1000)} s to go`,
          ...fields({ left, total }),
        ),
      );
    } else console.log(`ssehub: ${signal} received, closing streams`);
    await hub.shutdown();
    await shared?.close();
    await hub.broker.close();
    await server.close();
    glue.exit(0);
  };
  glue.onSignal('SIGTERM', () => void stop('SIGTERM'));
  glue.onSignal('SIGINT', () => void stop('SIGINT'));
  return new Promise<number>(() => {});
}

/** Development mode: ready-to-paste tokens (current-draft shape) for this run's key. */
async function printDevTokens(config: Config, base: string, generated: boolean): Promise<void> {
  const { publisher, subscriber } = await devTokens({
    key: config.jwtKey!,
    hubUrl: (configuredHubUrl(config, HUB_PATH) ?? new URL(HUB_PATH, base)).href,
    issuer: config.issuer,
    audience: config.resource,
  });
  console.log(
    `\nDevelopment mode: ${generated ? 'a key was generated for this run' : 'using the configured key'}. ` +
      'Production needs real keys (SSEHUB_JWT_KEY or --issuers-file) and no --dev.',
  );
  console.log(`Publisher token (valid 1 hour):\n  ${publisher}`);
  console.log(`Subscriber token (valid 1 hour, reads private updates):\n  ${subscriber}`);
  console.log(`Console: ${base}/#token=${publisher}`);
  console.log(
    `\nSubscribe:  curl -N -H 'Authorization: Bearer ${subscriber}' '${base}${HUB_PATH}?match=/chat'`,
  );
  console.log(
    `Publish:    curl -H 'Authorization: Bearer ${publisher}' -d topic=/chat -d data=hello ${base}${HUB_PATH}\n`,
  );
}

/** Files the process holds besides its connections (listener, history, logs, runtime), and a margin. */
const SPARE_FILES = 100;

/**
 * A warning for the start-up banner when the open-file limit, not the hub, would decide how many
 * connections it holds: past the limit the system refuses new ones (they are reset) while the hub
 * answers nothing. Without `SSEHUB_MAX_CONNECTIONS`, any limit under 4,096 is worth a word (1,024 is a
 * common default of shells, systemd and containers).
 */
export function fileLimitWarning(limit: number | undefined, maxConnections: number): string | undefined {
  if (limit === undefined) return undefined;
  const wanted = maxConnections > 0 ? maxConnections + SPARE_FILES : 4096;
  if (limit >= wanted) return undefined;
  const room = Math.max(0, limit - SPARE_FILES);
  const what =
    maxConnections > 0
      ? `too low for SSEHUB_MAX_CONNECTIONS (${maxConnections}): it holds about ${room}`
      : `so the hub holds about ${room} connections at most`;
  return (
    `the open-file limit is ${limit}, ${what}: each connection holds one file, and the system resets ` +
    'connections past the limit. Raise it (ulimit -n, systemd LimitNOFILE=, docker run --ulimit nofile=N:N)' +
    (maxConnections > 0 ? ' or lower SSEHUB_MAX_CONNECTIONS.' : ' or set SSEHUB_MAX_CONNECTIONS below it.')
  );
}
