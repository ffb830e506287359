/**
 * The synchronous path of token verification (`hub/verify.ts` with `nodeSignatures`) must decide every
 * token exactly as jose does through Web Crypto: each token below, well formed or not, is verified both
 * ways and the verdicts (and accepted claims) compared.
 */
import {
  constants,
  createHmac,
  createPrivateKey,
  generateKeyPairSync,
  type KeyObject,
  sign as signWith,
} from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadIssuers } from '../hub/issuers.ts';
import { InvalidToken, type SignatureCheck, type VerifyOptions, verifyToken } from '../hub/verify.ts';
import { nodeSignatures } from './signatures.ts';

const SECRET = 'hmac-path-secret-0123456789abcdef-0123';
const SECRET_384 = 'hmac-path-secret-384-0123456789abcdef-0123456789';
const OCT = 'oct-jwk-secret-0123456789abcdef-0123456';
const ISSUER = 'https://issuer.example';
const OCT_ISSUER = 'https://oct.example';
const RESOURCE = 'https://hub.example/.well-known/mercure';

/** Asymmetric key pairs; `other` signs what a trusted key must refuse. */
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const weakRsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const ed = generateKeyPairSync('ed25519');
const other = {
  rsa: generateKeyPairSync('rsa', { modulusLength: 2048 }),
  p256: generateKeyPairSync('ec', { namedCurve: 'P-256' }),
  ed: generateKeyPairSync('ed25519'),
};
const pem = (key: KeyObject) => key.export({ type: 'spki', format: 'pem' }).toString();
const jwk = (key: KeyObject) => key.export({ format: 'jwk' }) as Record<string, string>;

const issuers = await loadIssuers([
  { issuer: ISSUER, keys: [{ secret: SECRET }, { secret: SECRET_384, alg: 'HS384' }], legacy: true },
  {
    issuer: OCT_ISSUER,
    keys: [{ jwk: { kty: 'oct', k: Buffer.from(OCT).toString('base64url'), alg: 'HS256' } }],
  },
  { issuer: 'https://rs.example', keys: [{ pem: pem(rsa.publicKey), alg: 'RS256' }] },
  { issuer: 'https://ps.example', keys: [{ pem: pem(rsa.publicKey), alg: 'PS384' }] },
  { issuer: 'https://weak.example', keys: [{ pem: pem(weakRsa.publicKey), alg: 'RS256' }] },
  { issuer: 'https://es.example', keys: [{ jwk: jwk(p256.publicKey), alg: 'ES256' }] },
  { issuer: 'https://es384.example', keys: [{ jwk: jwk(p384.publicKey), alg: 'ES384' }] },
  {
    issuer: 'https://ed.example',
    keys: [{ jwks: { keys: [{ ...jwk(ed.publicKey), kid: 'ed-1', alg: 'EdDSA' }] } }],
  },
]);

/** A token of claims signed by `key` (a private key) under `alg`, as an identity provider would. */
function signed(alg: string, key: KeyObject, payload: string, header: Record<string, unknown> = {}): string {
  const data = `${b64(JSON.stringify({ alg, typ: 'at+jwt', ...header }))}.${b64(payload)}`;
  const hash = alg === 'EdDSA' ? null : `sha${alg.slice(2)}`;
  const options = alg.startsWith('PS')
    ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(alg.slice(2)) / 8 }
    : alg.startsWith('ES')
      ? { key, dsaEncoding: 'ieee-p1363' as const }
      : key;
  return `${data}.${signWith(hash, Buffer.from(data), options).toString('base64url')}`;
}
const claimsOf = (iss: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ iss, aud: RESOURCE, exp: now() + 600, sub: 'ada', ...extra });

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

async function verdict(
  jwt: string,
  signatures: SignatureCheck | undefined,
  legacy = false,
): Promise<Verdict> {
  const options: VerifyOptions = { use: 'subscribe', resource: RESOURCE, defaultIssuer: ISSUER, legacy };
  try {
    const verified = await verifyToken(jwt, issuers, signatures ? { ...options, signatures } : options);
    return { ok: true, claims: verified.claims };
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidToken);
    return { ok: false };
  }
}

/** Both ways; returns the common verdict and whether the synchronous check decided it. */
async function both(jwt: string, legacy = false): Promise<{ ok: boolean; synchronous: boolean }> {
  let calls = 0;
  const counting: SignatureCheck = (...args) => {
    const result = nodeSignatures(...args);
    if (result !== undefined) calls++;
    return result;
  };
  const jose = await verdict(jwt, undefined, legacy);
  const fast = await verdict(jwt, counting, legacy);
  expect(fast, jwt).toEqual(jose);
  return { ok: jose.ok, synchronous: calls > 0 };
}

describe('tokens verified with node:crypto', () => {
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

  it('verifies RS256, PS384, ES256, ES384 and EdDSA (a key set) tokens as jose does, without Web Crypto', async () => {
    const good: [string, KeyObject, string, Record<string, unknown>?][] = [
      ['RS256', rsa.privateKey, 'https://rs.example'],
      ['PS384', rsa.privateKey, 'https://ps.example'],
      ['ES256', p256.privateKey, 'https://es.example'],
      ['ES384', p384.privateKey, 'https://es384.example'],
      ['EdDSA', ed.privateKey, 'https://ed.example', { kid: 'ed-1' }],
    ];
    for (const [alg, key, iss, header] of good) {
      const jwt = signed(alg, key, claimsOf(iss), header);
      expect(await both(jwt), alg).toEqual({ ok: true, synchronous: true });
      // Claims changed under the same signature.
      const [h, , s] = jwt.split('.');
      expect(await both(`${h}.${b64(claimsOf(iss, { sub: 'eve' }))}.${s}`), alg).toEqual({
        ok: false,
        synchronous: true,
      });
      expect((await both(signed(alg, key, claimsOf(iss, { exp: now() - 60 }), header))).ok, alg).toBe(false);
    }
    // Signed by keys nobody trusts.
    for (const [alg, key, iss, header] of [
      ['RS256', other.rsa.privateKey, 'https://rs.example'],
      ['PS384', other.rsa.privateKey, 'https://ps.example'],
      ['ES256', other.p256.privateKey, 'https://es.example'],
      ['EdDSA', other.ed.privateKey, 'https://ed.example', { kid: 'ed-1' }],
    ] as const) {
      expect(await both(signed(alg, key, claimsOf(iss), header)), alg).toEqual({
        ok: false,
        synchronous: true,
      });
    }
  });

  it('refuses what jose refuses for asymmetric keys: short RSA keys, the wrong scheme, malformed signatures', async () => {
    const es = signed('ES256', p256.privateKey, claimsOf('https://es.example'));
    const [h, p, s] = es.split('.') as [string, string, string];
    const der = signWith('sha256', Buffer.from(`${h}.${p}`), p256.privateKey).toString('base64url');
    const cases = [
      // jose refuses RSA keys under 2048 bits, whatever the signature.
      signed('RS256', weakRsa.privateKey, claimsOf('https://weak.example')),
      // PKCS#1 v1.5 where the key is for PSS, and the other way round.
      signed('RS256', rsa.privateKey, claimsOf('https://ps.example')),
      signed('PS384', rsa.privateKey, claimsOf('https://rs.example')),
      signed('PS256', rsa.privateKey, claimsOf('https://ps.example')),
      // An ECDSA signature in DER rather than the JWS form, and cut short.
      `${h}.${p}.${der}`,
      `${h}.${p}.${s.slice(0, 40)}`,
      // A key set without the token's key.
      signed('EdDSA', ed.privateKey, claimsOf('https://ed.example'), { kid: 'unknown' }),
      signed(
        'ES256',
        createPrivateKey(p256.privateKey.export({ format: 'pem', type: 'pkcs8' })),
        claimsOf('https://ed.example'),
      ),
    ];
    for (const jwt of cases) expect((await both(jwt)).ok, jwt).toBe(false);
  });
});
