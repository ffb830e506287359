/**
 * Key pairs of the fixture's asymmetric issuers, made once per test run (the hubs under test are
 * started from the same process, so they get the public halves through `fixtureEnv`).
 */
import { exportJWK, exportSPKI, generateKeyPair } from 'jose';

const rs = await generateKeyPair('RS256', { extractable: true });
const es = await generateKeyPair('ES256', { extractable: true });
const ed = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });

/** Private keys tests sign with, and the public PEM of the RSA key (for the HS/RS confusion attack). */
export const keys = {
  rs: rs.privateKey,
  rsPublicPem: await exportSPKI(rs.publicKey),
  es: es.privateKey,
  ed: ed.privateKey,
};

/** Shared secrets of the issuer whose publisher and subscriber keys differ. */
export const SPLIT_PUBLISH_SECRET = 'split-publisher-secret-0123456789abcdef';
export const SPLIT_SUBSCRIBE_SECRET = 'split-subscriber-secret-0123456789abcdef';

/** The fixture's extra issuers, one per way of configuring a key. */
export const fixtureIssuers = [
  { issuer: 'https://rs.example', keys: [{ pem: keys.rsPublicPem, alg: 'RS256' }] },
  { issuer: 'https://es.example', keys: [{ jwk: { ...(await exportJWK(es.publicKey)), alg: 'ES256' } }] },
  {
    issuer: 'https://ed.example',
    algorithms: ['EdDSA'],
    keys: [{ jwks: { keys: [{ ...(await exportJWK(ed.publicKey)), kid: 'ed-1', alg: 'EdDSA' }] } }],
  },
  {
    issuer: 'https://split.example',
    keys: [
      { secret: SPLIT_PUBLISH_SECRET, use: 'publish' },
      { secret: SPLIT_SUBSCRIBE_SECRET, use: 'subscribe' },
    ],
  },
];
