/**
 * JWS signature checks through `node:crypto`, which Node, Bun and Deno all provide: synchronous, they
 * spare each token a Web Crypto job (on Node, a round trip through the thread pool and a promise — most
 * of what a new subscription cost with an HMAC token, and a third to a half of it with RSA or ECDSA).
 * `hub/verify.ts` decides which tokens and keys come here; anything this cannot check is left to jose.
 */
import { constants, createHmac, KeyObject, timingSafeEqual, verify } from 'node:crypto';
import type { SignatureCheck } from '../hub/index.ts';

/**
 * Each Web Crypto key as a KeyObject, once; null where the runtime cannot convert it. Only extractable
 * keys are converted (public keys always are): converting others is deprecated.
 */
const keyObjects = new WeakMap<CryptoKey, KeyObject | null>();

function keyObjectOf(key: CryptoKey): KeyObject | null {
  let object = keyObjects.get(key);
  if (object === undefined) {
    try {
      object = key.extractable ? KeyObject.from(key) : null;
    } catch {
      object = null;
    }
    keyObjects.set(key, object);
  }
  return object;
}

const HASH: Readonly<Record<string, string>> = { '256': 'sha256', '384': 'sha384', '512': 'sha512' };

export const nodeSignatures: SignatureCheck = (alg, key, data, signature) => {
  const hash = HASH[alg.slice(2)];
  try {
    if (key instanceof Uint8Array) {
      if (!alg.startsWith('HS') || !hash) return undefined;
      const mac = createHmac(hash, key).update(data, 'latin1').digest();
      return mac.byteLength === signature.byteLength && timingSafeEqual(mac, signature);
    }
    const object = keyObjectOf(key);
    if (!object) return undefined;
    const signed = Buffer.from(data, 'latin1');
    if (alg === 'EdDSA') return verify(null, signed, object, signature);
    if (!hash) return undefined;
    switch (alg.slice(0, 2)) {
      case 'RS':
        return verify(hash, signed, object, signature);
      case 'PS':
        return verify(
          hash,
          signed,
          { key: object, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(alg.slice(2)) / 8 },
          signature,
        );
      case 'ES':
        return verify(hash, signed, { key: object, dsaEncoding: 'ieee-p1363' }, signature);
      default:
        return undefined;
    }
  } catch {
    return undefined;
  }
};
