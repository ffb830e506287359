/**
 * Start-up steps shared by the Bun and Deno entries: parse the settings table, refuse to run without a
 * publisher key (unless `--dev`), and print the banner. Web APIs only, so each entry keeps just its
 * runtime's glue (argv, env, serve, signals).
 */
import { type Config, ConfigError, helpText, parseConfig } from '../config.ts';
import { mintToken } from '../hub/tokens.ts';

/** What an entry should do: run with this config, or exit with this code after printing `message`. */
export type Startup =
  | { run: true; config: Config; devToken?: string }
  | { run: false; code: number; message: string };

/**
 * Parses argv and env like the Node CLI does. In development mode without a key, generates one for
 * this run and mints a one-hour publisher token.
 *
 * @example
 * const start = await prepare(Deno.args, Deno.env.toObject(), 'ssehub-deno');
 */
export async function prepare(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  command = 'ssehub',
): Promise<Startup> {
  let parsed: ReturnType<typeof parseConfig>;
  try {
    parsed = parseConfig(argv, env);
  } catch (error) {
    if (error instanceof ConfigError) return { run: false, code: 2, message: `ssehub: ${error.message}\n` };
    throw error;
  }
  if (parsed.help) return { run: false, code: 0, message: helpText(command) };
  if (parsed.positionals.length > 0) {
    return {
      run: false,
      code: 2,
      message: `ssehub: unexpected argument "${parsed.positionals[0]}" (see --help)\n`,
    };
  }
  const config = parsed.config;
  if (!config.jwtKey && !config.allowAnonymousPublish) {
    if (!config.dev) {
      return {
        run: false,
        code: 2,
        message:
          'ssehub: no publisher key configured. Set SSEHUB_JWT_KEY (or --jwt-key), or run with --dev to try it out.\n',
      };
    }
    config.jwtKey = randomKey();
  }
  const devToken =
    config.dev && config.jwtKey ? await mintToken({ key: config.jwtKey, ttl: 3600 }) : undefined;
  return { run: true, config, devToken };
}

/** The lines printed once the server listens (the conformance spawners wait for "listening on"). */
export function banner(runtime: string, port: number, config: Config, devToken?: string): string {
  const base = `http://localhost:${port}`;
  const lines = [`ssehub (${runtime}) listening on ${base}  (hub: ${base}/.well-known/mercure)`];
  if (devToken) {
    lines.push(
      '',
      'Development mode: a key was generated for this run; production needs a real key (SSEHUB_JWT_KEY).',
      `Publisher token (valid 1 hour):\n  ${devToken}`,
      `Console: ${base}/#token=${devToken}`,
    );
  } else lines.push(`Console: ${base}/`);
  const auth = devToken
    ? ` -H 'Authorization: Bearer ${devToken}'`
    : config.jwtKey
      ? ` -H 'Authorization: Bearer <token>'`
      : '';
  lines.push(
    '',
    `Subscribe:  curl -N '${base}/.well-known/mercure?match=/chat'`,
    `Publish:    curl${auth} -d topic=/chat -d data=hello ${base}/.well-known/mercure`,
    '',
  );
  return lines.join('\n');
}

/** 32 random bytes, base64url: a development-only signing key. */
function randomKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes))
    .replaceAll('+', '-')
    .replaceAll('/', '_')
    .replace(/=+$/, '');
}
