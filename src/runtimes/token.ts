/**
 * `ssehub token …`: mints an access token so operators do not hand-craft JWTs. Defaults come from the
 * hub's own environment (SSEHUB_JWT_KEY, SSEHUB_ISSUER, SSEHUB_RESOURCE, SSEHUB_PUBLIC_URL). Bad input
 * exits with code 2 and a message naming the problem.
 */
import { readFileSync } from 'node:fs';
import { importPKCS8 } from 'jose';
import { ConfigError } from '../config/index.ts';
import {
  configuredHubUrl,
  HUB_PATH,
  type MintOptions,
  mintToken,
  SUPPORTED_ALGORITHMS,
  type TopicGrant,
} from '../hub/index.ts';

/** `ssehub token --help`. */
export const tokenHelp = `Usage: ssehub token [options]

Prints a signed access token for the hub.

  --publish <topic>            Grant publish on an exact topic, or * (repeatable)
  --publish-pattern <pattern>  Grant publish on a URL pattern (repeatable)
  --subscribe <topic>          Grant subscribe on an exact topic, or * (repeatable)
  --subscribe-pattern <pattern>
                               Grant subscribe on a URL pattern (repeatable)
  --payload <json>             JSON object shown in the subscription events of the token's subscriptions
  --subject <sub>              The token's sub (per-client connection limits count by it)
  --ttl <seconds>              Lifetime (default 3600); 0 = no exp (legacy mode only)
  --issuer <iss>               Default: SSEHUB_ISSUER, else the origin of SSEHUB_PUBLIC_URL
                               (else of SSEHUB_RESOURCE), as the hub defaults it
  --audience <resource>        Default: SSEHUB_RESOURCE, else SSEHUB_PUBLIC_URL + ${HUB_PATH}
  --key <secret>               HS256 secret (default: SSEHUB_JWT_KEY)
  --private-key <file>         Sign with a PKCS#8 PEM private key instead (needs --alg)
  --alg <alg>                  Algorithm (default HS256)
  --kid <kid>                  Key id header
  --legacy                     Pre-standardization shape: "mercure" claim, typ JWT
  --help                       Show this help.
`;

type Env = Readonly<Record<string, string | undefined>>;

/** Parses the command line into mint options. @throws {ConfigError} on bad input. */
export async function tokenOptions(argv: readonly string[], env: Env): Promise<MintOptions> {
  const publish: TopicGrant[] = [];
  const subscribe: TopicGrant[] = [];
  const values: Record<string, string> = {};
  let legacy = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--legacy') {
      legacy = true;
      continue;
    }
    if (!arg.startsWith('--'))
      throw new ConfigError(`unexpected argument "${arg}" (see ssehub token --help)`);
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined || value === '') throw new ConfigError(`--${name} needs a value`);
    if (name === 'publish' || name === 'subscribe')
      (name === 'publish' ? publish : subscribe).push({ match: value });
    else if (name === 'publish-pattern' || name === 'subscribe-pattern') {
      if (legacy || argv.includes('--legacy'))
        throw new ConfigError(`--${name}: legacy tokens have no URL patterns`);
      (name === 'publish-pattern' ? publish : subscribe).push({ match: value, match_type: 'urlpattern' });
    } else if (
      ['payload', 'subject', 'ttl', 'issuer', 'audience', 'key', 'private-key', 'alg', 'kid'].includes(name)
    ) {
      values[name] = value;
    } else throw new ConfigError(`unknown option --${name} (see ssehub token --help)`);
  }
  if (publish.length === 0 && subscribe.length === 0) {
    throw new ConfigError(
      'grant something: --publish, --subscribe, --publish-pattern or --subscribe-pattern',
    );
  }
  const ttlText = values.ttl ?? '3600';
  if (!/^\d+$/.test(ttlText))
    throw new ConfigError(`--ttl must be a whole number of seconds, got "${ttlText}"`);
  const ttl = Number(ttlText);
  if (ttl === 0 && !legacy)
    throw new ConfigError('--ttl 0 (no exp) is only valid with --legacy: exp is required');
  let payload: unknown;
  if (values.payload !== undefined) {
    try {
      payload = JSON.parse(values.payload);
    } catch {
      throw new ConfigError('--payload must be JSON');
    }
    // The draft: a payload is a JSON object, part of a subscribe grant (legacy tokens take any JSON).
    if (!legacy && (typeof payload !== 'object' || payload === null || Array.isArray(payload))) {
      throw new ConfigError('--payload must be a JSON object');
    }
    if (!legacy && subscribe.length === 0) {
      throw new ConfigError('--payload goes with a subscribe grant: add --subscribe or --subscribe-pattern');
    }
  }
  const alg = values.alg ?? 'HS256';
  if (!SUPPORTED_ALGORITHMS.includes(alg)) throw new ConfigError(`--alg: unsupported algorithm "${alg}"`);
  let key: string | CryptoKey;
  if (values['private-key'] !== undefined) {
    if (alg.startsWith('HS'))
      throw new ConfigError('--private-key needs an asymmetric --alg (ES256, RS256, EdDSA…)');
    let pem: string;
    try {
      pem = readFileSync(values['private-key'], 'utf8');
    } catch {
      throw new ConfigError(`--private-key: cannot read ${values['private-key']}`);
    }
    try {
      key = await importPKCS8(pem, alg);
    } catch {
      throw new ConfigError(`--private-key: not a PKCS#8 PEM private key for ${alg}`);
    }
  } else {
    const secret = values.key ?? env.SSEHUB_JWT_KEY;
    if (!secret)
      throw new ConfigError('no key: pass --key <secret> (or set SSEHUB_JWT_KEY), or --private-key');
    if (!alg.startsWith('HS')) throw new ConfigError(`--alg ${alg} needs --private-key`);
    key = secret;
  }
  // The hub's own default issuer: the origin of its public URL, else of its resource identifier.
  const origin = configuredHubUrl(
    { publicUrl: env.SSEHUB_PUBLIC_URL || undefined, resource: env.SSEHUB_RESOURCE || undefined },
    HUB_PATH,
  )?.origin;
  const issuer = values.issuer ?? env.SSEHUB_ISSUER ?? origin;
  const audience = values.audience ?? env.SSEHUB_RESOURCE ?? (origin ? `${origin}${HUB_PATH}` : undefined);
  if (!legacy && issuer === undefined) {
    throw new ConfigError('--issuer is required (the iss the hub trusts, e.g. https://hub.example.com)');
  }
  if (!legacy && audience === undefined) {
    throw new ConfigError(
      `--audience is required (the hub's resource, e.g. https://hub.example.com${HUB_PATH})`,
    );
  }
  return {
    key,
    alg,
    ttl,
    issuer,
    audience,
    subject: values.subject,
    kid: values.kid,
    publish,
    subscribe,
    payload,
    legacy,
  };
}

/** Runs `ssehub token`; returns the exit code. */
export async function tokenCommand(argv: readonly string[], env: Env): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(tokenHelp);
    return 0;
  }
  try {
    process.stdout.write(`${await mintToken(await tokenOptions(argv, env))}\n`);
    return 0;
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`ssehub token: ${error.message}`);
      return 2;
    }
    throw error;
  }
}
