/** `ssehub token`: tokens the hub accepts, and clear errors (exit 2) on bad input. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt, decodeProtectedHeader, exportPKCS8, exportSPKI, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintToken } from '../../src/hub/index.ts';
import { tokenOptions } from '../../src/runtimes/token.ts';
import { startNodeHub } from '../helpers/hub.ts';
import { openStream } from '../helpers/sse.ts';
import { runCli } from './run.ts';

const KEY = 'token-command-secret-0123456789abcdef';
const ISSUER = 'https://auth.example';
const RESOURCE = 'https://hub.example/.well-known/mercure';
const HUB = '/.well-known/mercure';

/** What `ssehub token <args>` prints, minus the newline (same code path, in process: spawning is slow). */
const mint = async (args: string[], env: Record<string, string> = {}) =>
  mintToken(await tokenOptions(args, env));

const post = (base: string, token: string, body: string) =>
  fetch(`${base}${HUB}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-www-form-urlencoded' },
    body,
  });

describe('ssehub token', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ssehub-token-'));
  let hub: Awaited<ReturnType<typeof startNodeHub>>;
  let esPrivate: string;

  beforeAll(async () => {
    const pair = await generateKeyPair('ES256', { extractable: true });
    esPrivate = join(dir, 'es256.key');
    writeFileSync(esPrivate, await exportPKCS8(pair.privateKey));
    writeFileSync(join(dir, 'es256.pub'), await exportSPKI(pair.publicKey));
    const issuers = [{ issuer: 'https://es.example', keys: [{ pem_file: 'es256.pub', alg: 'ES256' }] }];
    writeFileSync(join(dir, 'issuers.json'), JSON.stringify(issuers));
    hub = await startNodeHub({
      SSEHUB_JWT_KEY: KEY,
      SSEHUB_ISSUER: ISSUER,
      SSEHUB_RESOURCE: RESOURCE,
      SSEHUB_ISSUERS_FILE: join(dir, 'issuers.json'),
      SSEHUB_LEGACY: 'true',
    });
  });
  afterAll(() => hub?.stop());

  it('mints a current-draft publisher token the hub accepts', async () => {
    const token = await mint([
      '--publish',
      '/books/1',
      '--issuer',
      ISSUER,
      '--audience',
      RESOURCE,
      '--key',
      KEY,
    ]);
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'HS256', typ: 'at+jwt' });
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({
      iss: ISSUER,
      aud: RESOURCE,
      authorization_details: [
        {
          type: 'https://mercure.rocks/authorization-detail',
          actions: ['publish'],
          topics: [{ match: '/books/1' }],
        },
      ],
    });
    expect(claims.exp! - Math.floor(Date.now() / 1000)).toBeGreaterThan(3500);
    expect((await post(hub.url, token, 'topic=%2Fbooks%2F1&data=x')).status).toBe(200);
    expect((await post(hub.url, token, 'topic=%2Fbooks%2F2&data=x')).status).toBe(403);
  });

  it('takes its defaults from the hub environment, and grants URL patterns with a payload', async () => {
    const env = { SSEHUB_JWT_KEY: KEY, SSEHUB_ISSUER: ISSUER, SSEHUB_RESOURCE: RESOURCE };
    const reader = await mint(
      ['--subscribe-pattern', '/books/:id', '--payload', '{"user":"ada"}', '--subject', 'ada'],
      env,
    );
    expect(decodeJwt(reader)).toMatchObject({ sub: 'ada', iss: ISSUER, aud: RESOURCE });
    const writer = await mint(['--publish', '*'], env);
    const sub = await openStream(`${hub.url}${HUB}?match=%2Fbooks%2F7`, {
      authorization: `Bearer ${reader}`,
    });
    const res = await post(hub.url, writer, 'topic=%2Fbooks%2F7&data=secret&private=on');
    expect((await sub.waitForEvents(1))[0]!.id).toBe(await res.text());
    sub.close();
  });

  it('signs with a PEM private key for an asymmetric issuer', async () => {
    const token = await mint([
      '--publish=*',
      '--issuer=https://es.example',
      `--audience=${RESOURCE}`,
      `--private-key=${esPrivate}`,
      '--alg=ES256',
    ]);
    expect(decodeProtectedHeader(token).alg).toBe('ES256');
    expect((await post(hub.url, token, 'topic=%2Fa&data=x')).status).toBe(200);
  });

  it('mints the legacy shape (mercure claim, typ JWT, no exp with --ttl 0)', async () => {
    const token = await mint(['--legacy', '--ttl', '0', '--publish', '*', '--key', KEY]);
    expect(decodeProtectedHeader(token).typ).toBe('JWT');
    const claims = decodeJwt(token);
    expect(claims.exp).toBeUndefined();
    expect(claims.mercure).toEqual({ publish: ['*'], subscribe: [] });
    expect((await post(hub.url, token, 'topic=%2Fa&data=x')).status).toBe(200);
  });

  it.each([
    ['no grant', ['--key', KEY, '--issuer', ISSUER, '--audience', RESOURCE], /grant something/],
    ['an unknown option', ['--publish', '*', '--colour', 'blue'], /unknown option --colour/],
    ['a stray argument', ['--publish', '*', 'extra'], /unexpected argument "extra"/],
    ['a missing value', ['--publish'], /--publish needs a value/],
    ['no key', ['--publish', '*', '--issuer', ISSUER, '--audience', RESOURCE], /no key/],
    ['no issuer', ['--publish', '*', '--key', KEY, '--audience', RESOURCE], /--issuer is required/],
    ['no audience', ['--publish', '*', '--key', KEY, '--issuer', ISSUER], /--audience is required/],
    ['a bad ttl', ['--publish', '*', '--key', KEY, '--ttl', '1h'], /--ttl must be a whole number/],
    ['no exp outside legacy', ['--publish', '*', '--key', KEY, '--ttl', '0'], /only valid with --legacy/],
    [
      'a payload that is not JSON',
      ['--subscribe', '*', '--key', KEY, '--payload', '{x'],
      /--payload must be JSON/,
    ],
    [
      'a payload that is not an object',
      ['--subscribe', '*', '--key', KEY, '--payload', '"ada"'],
      /--payload must be a JSON object/,
    ],
    [
      'a payload without a subscribe grant',
      ['--publish', '*', '--key', KEY, '--payload', '{"user":"ada"}'],
      /--payload goes with a subscribe grant/,
    ],
    ['alg none', ['--publish', '*', '--key', KEY, '--alg', 'none'], /unsupported algorithm "none"/],
    [
      'an asymmetric alg without a private key',
      ['--publish', '*', '--key', KEY, '--alg', 'ES256'],
      /needs --private-key/,
    ],
    [
      'an unreadable private key',
      ['--publish', '*', '--alg', 'ES256', '--private-key', '/nonexistent'],
      /cannot read/,
    ],
    [
      'patterns in a legacy token',
      ['--legacy', '--publish-pattern', '/a/:b', '--key', KEY],
      /no URL patterns/,
    ],
  ])('refuses %s with a clear message', async (_, args, message) => {
    await expect(tokenOptions(args, {})).rejects.toThrow(message);
  });

  it('never mints a current-draft token the hub refuses for its payload', async () => {
    const common = { key: KEY, ttl: 60, issuer: ISSUER, audience: RESOURCE };
    await expect(
      mintToken({ ...common, publish: [{ match: '*' }], payload: { user: 'ada' } }),
    ).rejects.toThrow(TypeError);
    await expect(mintToken({ ...common, subscribe: [{ match: '*' }], payload: 'ada' })).rejects.toThrow(
      TypeError,
    );
    const legacy = await mintToken({ ...common, legacy: true, publish: [{ match: '*' }], payload: 'ada' });
    expect(decodeJwt(legacy).mercure).toEqual({ publish: ['*'], subscribe: [], payload: 'ada' });
  });

  it('exits 2 on bad input, with the message on stderr and nothing on stdout', async () => {
    const result = await runCli(['token', '--publish', '*', '--ttl', '-5', '--key', KEY]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe('ssehub token: --ttl must be a whole number of seconds, got "-5"\n');
  });

  it('prints the token on stdout, and nothing else', async () => {
    const result = await runCli(['token', '--publish', '*', '--issuer', ISSUER, '--audience', RESOURCE], {
      SSEHUB_JWT_KEY: KEY,
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    expect((await post(hub.url, result.stdout.trim(), 'topic=%2Fa&data=x')).status).toBe(200);
  });

  it('prints its help', async () => {
    const result = await runCli(['token', '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('--subscribe-pattern');
  });
});
