#!/usr/bin/env node
/**
 * `ssehub` / `npm start`: the hub on Node with the memory broker. Settings come from flags and
 * environment variables (see `--help`); a bad value exits with code 2. `ssehub token …` mints tokens.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { createApp } from '../app.ts';
import { type Config, ConfigError, helpText, parseConfig } from '../config.ts';
import { HUB_PATH, type Hub } from '../hub/app.ts';
import type { IssuerConfig } from '../hub/issuers.ts';
import { devTokens } from '../hub/tokens.ts';
import { loadIssuersFile } from './issuers-file.ts';
import { serveNode } from './node.ts';
import { tokenCommand } from './token.ts';

type FetchHandler = Parameters<typeof serveNode>[0];

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'token') return tokenCommand(argv.slice(1), process.env);
  let parsed: ReturnType<typeof parseConfig>;
  let issuers: IssuerConfig[] = [];
  try {
    parsed = parseConfig(argv, process.env);
    if (!parsed.help && parsed.config.issuersFile) issuers = loadIssuersFile(parsed.config.issuersFile);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`ssehub: ${error.message}`);
      return 2;
    }
    throw error;
  }
  if (parsed.help) {
    process.stdout.write(helpText());
    return 0;
  }
  const config: Config = parsed.config;
  if (parsed.positionals.length > 0) {
    console.error(`ssehub: unexpected argument "${parsed.positionals[0]}" (see --help)`);
    return 2;
  }
  const keyed = Boolean(config.jwtKey || config.issuers || issuers.length > 0);
  if (!keyed && !config.allowAnonymousPublish) {
    if (!config.dev) {
      console.error(
        'ssehub: no key configured. Set SSEHUB_JWT_KEY (or --jwt-key, or trusted issuers with --issuers-file), or run with --dev to try it out.',
      );
      return 2;
    }
  }
  const generated = config.dev && !config.jwtKey && !keyed;
  if (generated) config.jwtKey = randomBytes(32).toString('base64url');

  // Loaded only when asked for, so the single-instance hub never loads the Redis client.
  const broker = config.redisUrl
    ? await (await import('../brokers/redis.ts')).createRedisBroker({
        url: config.redisUrl,
        key: config.redisKey,
        historySize: config.historySize,
      })
    : undefined;
  // With Redis, the Subscription API and the expiry of dead instances need the shared registry.
  const registry =
    broker && config.subscriptionEvents
      ? await (await import('../brokers/redis-registry.ts')).createRedisRegistry({
          url: config.redisUrl!,
          key: config.redisKey,
          ttlSeconds: config.presenceTtl,
          broker,
        })
      : undefined;

  // Listen first, so that development mode knows the port its tokens are for.
  let handler: FetchHandler = () => new Response('starting\n', { status: 503 });
  const server = await serveNode((request, env) => handler(request, env), {
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
        clientAddress: (c) =>
          (c.env as { incoming?: IncomingMessage } | undefined)?.incoming?.socket.remoteAddress,
        // Fan out once per event-loop turn: every publish handled in the turn shares one write per subscriber.
        defer: setImmediate,
      },
    });
    handler = built.app.fetch;
    hub = built.hub;
    await hub.ready;
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`ssehub: ${error.message}`);
      await server.close(0);
      await registry?.close();
      await broker?.close();
      return 2;
    }
    throw error;
  }

  console.log(`ssehub listening on ${base}  (hub: ${base}${HUB_PATH})`);
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
    console.log(`ssehub: ${signal} received, closing streams`);
    const closed = server.close(2000);
    await hub.shutdown();
    await hub.broker.close();
    await closed;
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  return -1;
}

/** Development mode: ready-to-paste tokens (current-draft shape) for this run's key. */
async function printDevTokens(config: Config, base: string, generated: boolean): Promise<void> {
  const { publisher, subscriber } = await devTokens({
    key: config.jwtKey!,
    hubUrl: new URL(HUB_PATH, config.publicUrl ?? base).href,
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

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (error) => {
    console.error('ssehub:', error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
