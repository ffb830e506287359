/**
 * The synchronous HMAC path of token verification (`hub/verify.ts` with `nodeHmac`) must decide every
 * token exactly as jose does through Web Crypto: each token below, well formed or not, is verified both
 * ways and the verdicts (and accepted claims) compared.
 */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadIssuers } from '../hub/issuers.ts';
import { type Hmac, InvalidToken, type VerifyOptions, verifyToken } from '../hub/verify.ts';
import { nodeHmac } from './hmac.ts';

const SECRET = 'hmac-path-secret-0123456789abcdef-0123';
const SECRET_384 = 'hmac-path-secret-384-0123456789abcdef-0123456789';
const OCT = 'oct-jwk-secret-0123456789abcdef-0123456';
const ISSUER = 'https://issuer.example';
const OCT_ISSUER = 'https://oct.example';
const RESOURCE = 'https://hub.example/.well-known/mercure';

const issuers = await loadIssuers([
  { issuer: ISSUER, keys: [{ secret: SECRET }, { secret: SECRET_384, alg: 'HS384' }], legacy: true },
  {
    issuer: OCT_ISSUER,
    keys: [{ jwk: { kty: 'oct', k: Buffer.from(OCT).toString('base64url'), alg: 'HS256' } }],
  },
]);

const b64 = (bytes: string | Buffer) => Buffer.from(bytes).toString('base64url');
const hashOf: Record<string, string> = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' };

/** A token of raw header and payload bytes, signed with `secret` under the header's algorithm. */
function token(header: string | Buffer, payload: string | Buffer, secret = SECRET, alg = 'HS256'): string {
  const signed = `${b64(header)}.${b64(payload)}`;
  return `${signed}.${createHmac(hashOf[alg] ?? 'sha256', secret)
    .update(signed)
    .digest('base64url')}`;
}

const now = () => Math.floor(Date.now() / 1000);
const HEADER = JSON.stringify({ alg: 'HS256', typ: 'at+jwt' });
const claims = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({ iss: ISSUER, aud: RESOURCE, exp: now() + 600, sub: 'ada', ...extra });

type Verdict = { ok: true; claims: unknown } | { ok: false };

async function verdict(jwt: string, hmac: Hmac | undefined, legacy = false): Promise<Verdict> {
  const options: VerifyOptions = { use: 'subscribe', resource: RESOURCE, defaultIssuer: ISSUER, legacy };
  try {
    const verified = await verifyToken(jwt, issuers, hmac ? { ...options, hmac } : options);
    return { ok: true, claims: verified.claims };
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidToken);
    return { ok: false };
  }
}

/** Both ways; returns the common verdict and whether the synchronous HMAC ran. */
async function both(jwt: string, legacy = false): Promise<{ ok: boolean; synchronous: boolean }> {
  let calls = 0;
  const counting: Hmac = (...args) => {
    calls++;
    return nodeHmac(...args);
  };
  const jose = await verdict(jwt, undefined, legacy);
  const fast = await verdict(jwt, counting, legacy);
  expect(fast, jwt).toEqual(jose);
  return { ok: jose.ok, synchronous: calls > 0 };
}

describe('HMAC tokens verified with node:crypto', () => {
  it('accepts what jose accepts, with the same claims, without Web Crypto', async () => {
    for (const jwt of [
      token(HEADER, claims()),
      token(HEADER, claims({ aud: ['https://other.example', RESOURCE] })),
      token(HEADER, claims({ sub: 'Zoë 😀', payload: { name: 'Ünïcode' } })),
      token(HEADER, claims({ exp: now() - 3 })), // within the 5 s clock tolerance
      token(HEADER, claims({ nbf: now() + 3, iat: now() })),
      token(
        JSON.stringify({ alg: 'HS256', typ: 'application/at+jwt', kid: 'k1', jku: 'https://evil' }),
        claims(),
      ),
      token(HEADER.replace('}', ',"b64x":1}'), claims()),
      token(HEADER, claims({ exp: 0 }).replace('"exp":0', '"exp":1e999')), // Infinity: jose takes it too
      token(HEADER, `{"exp":1,"iss":"${ISSUER}","aud":"${RESOURCE}","exp":${now() + 60}}`),
      token(HEADER, claims({ ['__proto__']: { admin: true } })),
      token(HEADER, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(claims())])), // a BOM
      token(JSON.stringify({ alg: 'HS384', typ: 'at+jwt' }), claims(), SECRET_384, 'HS384'),
      token(HEADER, claims({ iss: OCT_ISSUER }), OCT),
    ]) {
      expect(await both(jwt), jwt).toEqual({ ok: true, synchronous: true });
    }
  });

  it('refuses a wrong signature without Web Crypto, as jose does', async () => {
    const good = token(HEADER, claims());
    const [h, p, s] = good.split('.') as [string, string, string];
    const flipped = `${s.slice(0, 10)}${s[10] === 'A' ? 'B' : 'A'}${s.slice(11)}`;
    for (const jwt of [
      token(HEADER, claims(), 'another-secret-0123456789abcdef-0123456'),
      `${h}.${p}.${flipped}`,
      `${h}.${p}.${s.slice(0, -4)}`, // shorter
      `${h}.${p}.${s}AAAA`, // longer
      `${h}.${b64(claims({ sub: 'eve' }))}.${s}`, // claims swapped under a real signature
      token(JSON.stringify({ alg: 'HS384', typ: 'at+jwt' }), claims(), SECRET, 'HS384'), // HS384 with the HS256 key's bytes
      token(HEADER, claims({ iss: OCT_ISSUER }), SECRET),
    ]) {
      expect(await both(jwt), jwt).toEqual({ ok: false, synchronous: true });
    }
  });

  it('refuses what jose refuses, whether or not the synchronous path looked at it', async () => {
    const cases = [
      token(HEADER, claims({ exp: now() - 5 })),
      token(HEADER, claims({ exp: now() - 60 })),
      token(HEADER, claims({ exp: String(now() + 600) })),
      token(HEADER, claims({ exp: undefined })),
      token(HEADER, claims({ nbf: now() + 10 })),
      token(HEADER, claims({ nbf: String(now()) })),
      token(HEADER, claims({ iat: 'yesterday' })),
      token(HEADER, claims({ aud: 'https://other.example' })),
      token(HEADER, claims({ aud: ['https://other.example'] })),
      token(HEADER, claims({ aud: 42 })),
      token(HEADER, claims({ aud: undefined })),
      token(HEADER, claims({ iss: 'https://evil.example' })),
      token(HEADER, claims({ iss: undefined })),
      token(JSON.stringify({ alg: 'HS256', typ: 'JWT' }), claims()),
      token(JSON.stringify({ alg: 'HS256' }), claims()),
      token(JSON.stringify({ alg: 'hs256', typ: 'at+jwt' }), claims()),
      token(JSON.stringify({ alg: 'none', typ: 'at+jwt' }), claims()),
      token(JSON.stringify({ alg: 'HS512', typ: 'at+jwt' }), claims(), SECRET, 'HS512'),
      token(JSON.stringify({ alg: 'HS256', typ: 'at+jwt', crit: ['exp'] }), claims()),
      token(JSON.stringify({ alg: 'HS256', typ: 'at+jwt', crit: ['b64'], b64: false }), claims()),
      token(HEADER, '[1,2]'),
      token(HEADER, 'null'),
      token(HEADER, '"a string"'),
      token(HEADER, '{"exp":'),
      token(
        HEADER,
        Buffer.concat([Buffer.from(claims().slice(0, -1)), Buffer.from(',"sub":"\xff"}', 'latin1')]),
      ),
      token('[]', claims()),
      token(Buffer.from([0xff, 0xfe]), claims()),
    ];
    for (const jwt of cases) expect((await both(jwt)).ok, jwt).toBe(false);
  });

  it('leaves tokens of unusual shape to jose, and agrees with it', async () => {
    const good = token(HEADER, claims());
    const [h, p, s] = good.split('.') as [string, string, string];
    const cases: [string, boolean][] = [
      [`${h}.${p}.${s}=`, true], // jose reads past the padding
      // b64 means something only when crit names it (RFC 7797): jose ignores it here.
      [token(JSON.stringify({ alg: 'HS256', typ: 'at+jwt', b64: false }), claims()), true],
      [`${h}=.${p}.${s}`, false],
      [`${h}.${p}.${s.slice(0, 1)}`, false],
      [`${h}.${p}.`, false],
      [`${h}.${p}`, false],
      [`${h}.${p}.${s}.${s}`, false],
      [`${h}..${s}`, false],
      [` ${h}.${p}.${s}`, false],
    ];
    // A signature in base64 rather than base64url.
    if (/[-_]/.test(s))
      cases.push([`${h}.${p}.${s.replace(/[-_]/g, (c) => (c === '-' ? '+' : '/'))}`, false]);
    for (const [jwt, accepted] of cases) {
      const result = await both(jwt);
      // Whatever jose decides, the synchronous path never ran on these.
      expect(result.synchronous, jwt).toBe(false);
      expect(result.ok, jwt).toBe(accepted);
    }
  });

  it('takes legacy tokens (no typ, exp optional) the same way', async () => {
    const header = JSON.stringify({ alg: 'HS256', typ: 'JWT' });
    expect(await both(token(header, JSON.stringify({ iss: ISSUER, sub: 'ada' })), true)).toEqual({
      ok: true,
      synchronous: true,
    });
    expect(await both(token(header, JSON.stringify({ iss: ISSUER, exp: now() - 60 })), true)).toEqual({
      ok: false,
      synchronous: true,
    });
    expect(
      await both(token(header, JSON.stringify({ iss: ISSUER, aud: 'https://other.example' })), true),
    ).toEqual({ ok: false, synchronous: true });
  });
});
