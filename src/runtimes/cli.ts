#!/usr/bin/env node
/**
 * `ssehub` / `npm start`: the hub on Node with the memory broker. Settings come from flags and
 * environment variables (see `--help`); a bad value exits with code 2.
 */
import { randomBytes } from 'node:crypto';
import { createApp } from '../app.ts';
import { type Config, ConfigError, helpText, parseConfig } from '../config.ts';
import { mintToken } from '../hub/tokens.ts';
import { serveNode } from './node.ts';

async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseConfig>;
  try {
    parsed = parseConfig(argv, process.env);
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
  let devToken: string | undefined;
  if (!config.jwtKey && !config.allowAnonymousPublish) {
    if (!config.dev) {
      console.error(
        'ssehub: no publisher key configured. Set SSEHUB_JWT_KEY (or --jwt-key), or run with --dev to try it out.',
      );
      return 2;
    }
    config.jwtKey = randomBytes(32).toString('base64url');
  }
  if (config.dev && config.jwtKey) devToken = await mintToken({ key: config.jwtKey, ttl: 3600 });

  const { app, hub } = createApp({ config });
  const server = await serveNode(app.fetch, { port: config.port, host: config.host });
  const base = `http://localhost:${server.port}`;
  console.log(`ssehub listening on ${base}  (hub: ${base}/.well-known/mercure)`);
  if (devToken) {
    console.log(
      `\nDevelopment mode: a key was generated for this run; production needs a real key (SSEHUB_JWT_KEY).`,
    );
    console.log(`Publisher token (valid 1 hour):\n  ${devToken}`);
    console.log(`Console: ${base}/#token=${devToken}`);
  } else console.log(`Console: ${base}/`);
  const auth = devToken
    ? ` -H 'Authorization: Bearer ${devToken}'`
    : config.jwtKey
      ? ` -H 'Authorization: Bearer <token>'`
      : '';
  console.log(`\nSubscribe:  curl -N '${base}/.well-known/mercure?match=/chat'`);
  console.log(`Publish:    curl${auth} -d topic=/chat -d data=hello ${base}/.well-known/mercure\n`);

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

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (error) => {
    console.error('ssehub:', error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
