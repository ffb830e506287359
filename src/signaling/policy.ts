/**
 * Who may join which room: anyone (`open`), holders of the application's own token (`token`), or
 * nobody (`off`). In `token` mode the application signs a JWT for its user with a key the hub is
 * configured to trust (`SSEHUB_ROOMS_ISSUERS`, the same JSON as `SSEHUB_ISSUERS`) and lists the rooms
 * it may join in a `rooms` claim; the hub checks signature, `iss`, `aud` and `exp`, and nothing about
 * `typ` (applications' session tokens are rarely access tokens).
 */
import { decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { HubError, type IssuerConfig, type LoadedIssuer, loadIssuers } from '../hub/index.ts';

/** The join policies. */
export const POLICIES = ['open', 'token', 'off'] as const;
/** How rooms are joined; see the module comment. */
export type RoomsPolicy = (typeof POLICIES)[number];

/** What the upstream token says about the user. */
export interface UpstreamIdentity {
  /** The token's `sub`. */
  user?: string;
  /** The token's `name`, as a display name. */
  name?: string;
}

const CHALLENGE = 'Bearer realm="ssehub rooms"';
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;
const CLOCK_TOLERANCE = 5;
const MAX_TOKEN_LENGTH = 16 * 1024;

const unauthorized = (error?: 'invalid_token') =>
  new HubError('unauthorized', error ? 'invalid token' : 'joining this room needs a token', {
    'www-authenticate': error ? `${CHALLENGE}, error="${error}"` : CHALLENGE,
  });

/** Verifies the application's tokens for `token` mode. */
export class UpstreamVerifier {
  #issuers: LoadedIssuer[] = [];
  /** Resolves once the keys are imported; rejects with a `ConfigError` for a bad key. */
  readonly ready: Promise<void>;

  constructor(issuers: readonly IssuerConfig[]) {
    this.ready = loadIssuers(issuers).then((loaded) => {
      this.#issuers = loaded;
    });
    this.ready.catch(() => {});
  }

  /**
   * Checks the bearer token of a join request for `room`.
   * @throws {HubError} 401 without a valid token, 403 when its `rooms` claim does not name the room.
   */
  async verify(request: Request, room: string, audience: string): Promise<UpstreamIdentity> {
    const header = request.headers.get('authorization');
    if (header === null) throw unauthorized();
    const token = BEARER.exec(header)?.[1];
    if (token === undefined) {
      throw new HubError('bad_request', 'malformed Authorization header (expected "Bearer <token>")', {
        'www-authenticate': `${CHALLENGE}, error="invalid_request"`,
      });
    }
    await this.ready;
    const claims = await this.#claims(token, audience);
    const rooms = claims.rooms;
    if (!Array.isArray(rooms) || !rooms.some((r) => r === '*' || r === room)) {
      throw new HubError('forbidden', 'the token does not allow this room', {
        'www-authenticate': `${CHALLENGE}, error="insufficient_scope"`,
      });
    }
    return {
      user: typeof claims.sub === 'string' ? claims.sub : undefined,
      name: typeof claims.name === 'string' ? claims.name : undefined,
    };
  }

  async #claims(token: string, audience: string): Promise<Record<string, unknown>> {
    if (token.length > MAX_TOKEN_LENGTH) throw unauthorized('invalid_token');
    let alg: unknown;
    let iss: unknown;
    try {
      alg = decodeProtectedHeader(token).alg;
      iss = decodeJwt(token).iss;
    } catch {
      throw unauthorized('invalid_token');
    }
    if (typeof alg !== 'string' || typeof iss !== 'string') throw unauthorized('invalid_token');
    const keys = this.#issuers
      .filter((i) => i.issuer === iss)
      .flatMap((i) => i.keys)
      .filter((k) => k.algorithms.includes(alg));
    for (const { key } of keys) {
      const checks = {
        algorithms: [alg],
        issuer: iss,
        audience,
        clockTolerance: CLOCK_TOLERANCE,
        requiredClaims: ['exp'],
      };
      try {
        const { payload } =
          typeof key === 'function'
            ? await jwtVerify(token, key, checks)
            : await jwtVerify(token, key, checks);
        return payload;
      } catch {
        // Next key of the issuer, if any.
      }
    }
    throw unauthorized('invalid_token');
  }
}
