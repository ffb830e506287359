/**
 * `ssehub admin …`: the admin API from a shell. It calls a running hub over HTTP, so it works on any
 * instance of any runtime (Workers included); the credential is `SSEHUB_ADMIN_KEY` unless `--key`
 * gives one (an admin access token works too). Prints the JSON answer; exits 1 when the hub refuses,
 * 2 on bad input.
 */
import { ConfigError } from '../config/index.ts';

/** `ssehub admin --help`. */
export const adminHelp = `Usage: ssehub admin [--url <hub>] [--key <key>] <command> [options]

Calls the admin API of a running hub (see docs/operations.md) and prints its JSON answer.

Commands:
  topics [--limit <n>] [--after <cursor>]
                        Topics (subscription matchers) and their subscriber counts
  subscribers [--match <topic>] [--match-type exact|urlpattern] [--limit <n>] [--after <cursor>]
                        Subscribers of a topic (of every topic without --match)
  disconnect (--subscriber <id> | --sub <sub>) [--retry <ms>]
                        Ends the streams of a subscriber, or of every token of a subject
  revoke (--jti <jti> | --sub <sub>) [--until <epoch seconds> | --ttl <seconds>]
                        Refuses those tokens until then (default: one day) and ends their streams
  revocations           Revocations in force
  lift (--jti <jti> | --sub <sub>)
                        Removes a revocation

Options:
  --url <hub>           Base URL of the hub (default: SSEHUB_ADMIN_URL, else http://127.0.0.1:$PORT)
  --key <key>           Admin key or admin access token (default: SSEHUB_ADMIN_KEY)
  --help                Show this help.
`;

type Env = Readonly<Record<string, string | undefined>>;

/** A parsed command line: the request to send. */
export interface AdminRequest {
  method: 'GET' | 'POST' | 'DELETE';
  url: string;
  key: string;
  body?: Record<string, unknown>;
}

const COMMANDS: Record<string, readonly string[]> = {
  topics: ['limit', 'after'],
  subscribers: ['match', 'match-type', 'limit', 'after'],
  disconnect: ['subscriber', 'sub', 'retry'],
  revoke: ['jti', 'sub', 'until', 'ttl'],
  revocations: [],
  lift: ['jti', 'sub'],
};

/** Parses `ssehub admin …`. @throws {ConfigError} on bad input. */
export function adminRequest(argv: readonly string[], env: Env): AdminRequest {
  const values: Record<string, string> = {};
  let command: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) {
      if (command !== undefined)
        throw new ConfigError(`unexpected argument "${arg}" (see ssehub admin --help)`);
      command = arg;
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined || value === '') throw new ConfigError(`--${name} needs a value`);
    values[name] = value;
  }
  if (command === undefined) throw new ConfigError('name a command (see ssehub admin --help)');
  const allowed = COMMANDS[command];
  if (!allowed) throw new ConfigError(`unknown command "${command}" (see ssehub admin --help)`);
  for (const name of Object.keys(values)) {
    if (name !== 'url' && name !== 'key' && !allowed.includes(name)) {
      throw new ConfigError(`--${name} does not apply to ${command} (see ssehub admin --help)`);
    }
  }
  const key = values.key ?? env.SSEHUB_ADMIN_KEY;
  if (!key) throw new ConfigError('no admin key: set SSEHUB_ADMIN_KEY or pass --key');
  const base = (values.url ?? env.SSEHUB_ADMIN_URL ?? `http://127.0.0.1:${env.PORT || 3000}`).replace(
    /\/+$/,
    '',
  );
  const query = (names: Record<string, string>) => {
    const params = new URLSearchParams();
    for (const [flag, param] of Object.entries(names))
      if (values[flag] !== undefined) params.set(param, values[flag]);
    const text = params.toString();
    return text === '' ? '' : `?${text}`;
  };
  const one = (names: readonly string[]) => {
    const given = names.filter((n) => values[n] !== undefined);
    if (given.length !== 1)
      throw new ConfigError(`${command} needs exactly one of ${names.map((n) => `--${n}`).join(', ')}`);
    return { [given[0]!]: values[given[0]!]! };
  };
  const number = (name: string) => {
    const text = values[name];
    if (text === undefined) return {};
    if (!/^\d+$/.test(text)) throw new ConfigError(`--${name} must be a whole number, got "${text}"`);
    return { [name]: Number(text) };
  };
  switch (command) {
    case 'topics':
      return { method: 'GET', url: `${base}/admin/topics${query({ limit: 'limit', after: 'after' })}`, key };
    case 'subscribers':
      return {
        method: 'GET',
        url: `${base}/admin/subscribers${query({ match: 'match', 'match-type': 'match_type', limit: 'limit', after: 'after' })}`,
        key,
      };
    case 'disconnect':
      return {
        method: 'POST',
        url: `${base}/admin/disconnect`,
        key,
        body: { ...one(['subscriber', 'sub']), ...number('retry') },
      };
    case 'revoke':
      if (values.until !== undefined && values.ttl !== undefined)
        throw new ConfigError('give --until or --ttl, not both');
      return {
        method: 'POST',
        url: `${base}/admin/revoke`,
        key,
        body: { ...one(['jti', 'sub']), ...number('until'), ...number('ttl') },
      };
    case 'revocations':
      return { method: 'GET', url: `${base}/admin/revocations`, key };
    default: {
      const entry = one(['jti', 'sub']);
      return {
        method: 'DELETE',
        url: `${base}/admin/revocations${query(Object.fromEntries(Object.keys(entry).map((k) => [k, k])))}`,
        key,
      };
    }
  }
}

/** Runs `ssehub admin …`; resolves with the exit code. */
export async function adminCommand(argv: readonly string[], env: Env): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(adminHelp.trimEnd());
    return 0;
  }
  let request: AdminRequest;
  try {
    request = adminRequest(argv, env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`ssehub admin: ${error.message}`);
      return 2;
    }
    throw error;
  }
  let response: Response;
  try {
    response = await fetch(request.url, {
      method: request.method,
      headers: {
        authorization: `Bearer ${request.key}`,
        ...(request.body ? { 'content-type': 'application/json' } : {}),
      },
      body: request.body ? JSON.stringify(request.body) : undefined,
    });
  } catch (error) {
    console.error(`ssehub admin: cannot reach ${request.url}: ${(error as Error).message}`);
    return 1;
  }
  const text = await response.text();
  if (!response.ok) {
    console.error(`ssehub admin: ${response.status} ${text.trim()}`);
    return 1;
  }
  try {
    console.log(JSON.stringify(JSON.parse(text), null, 2));
  } catch {
    console.log(text.trimEnd());
  }
  return 0;
}
