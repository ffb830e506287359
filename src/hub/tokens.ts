import { SignJWT } from 'jose';

export interface MintOptions {
  /** HS256 secret. */
  key: string;
  /** Lifetime in seconds. */
  ttl: number;
  /** Extra claims (e.g. `authorization_details`, `mercure`, `sub`). */
  claims?: Record<string, unknown>;
}

/** Signs an HS256 access token (`typ: at+jwt`) that expires after `ttl` seconds. */
export async function mintToken(options: MintOptions): Promise<string> {
  return new SignJWT(options.claims ?? {})
    .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + options.ttl)
    .sign(new TextEncoder().encode(options.key));
}
