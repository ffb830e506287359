/**
 * An operator's bearer key (the admin API's, `/metrics`'): `Authorization: Bearer <key>` compared
 * digest to digest, in time that does not depend on where the bytes differ.
 */

/** A check of the `Authorization` header against `Bearer <key>`. */
export function bearerKey(key: string): (authorization: string | null) => Promise<boolean> {
  const expected = digest(`Bearer ${key}`);
  return async (authorization) =>
    authorization !== null && sameBytes(await digest(authorization), await expected);
}

async function digest(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < a.length && i < b.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
