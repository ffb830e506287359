/**
 * ICE servers for the join answer: STUN URLs as configured, and TURN credentials minted per peer.
 *
 * Two sources of TURN credentials:
 * - a shared secret with a TURN server (coturn's `use-auth-secret`, the "TURN REST API" draft,
 *   draft-uberti-behave-turn-rest-00 §2.2): the username is `expiry:peer` (expiry in Unix seconds)
 *   and the credential is the base64 HMAC-SHA1 of the username keyed with the secret, so the TURN
 *   server checks it without asking anyone and refuses it after the expiry;
 * - Cloudflare's TURN service, whose credentials come from its API
 *   (`POST …/v1/turn/keys/{key id}/credentials/generate-ice-servers`): fetched at most once per
 *   half-lifetime for the whole hub (joins are what strangers send: one join must not cost a call
 *   out), and a join is answered without them while the API fails.
 * Web APIs only (`crypto.subtle`, `fetch`).
 */

/** One entry of `RTCConfiguration.iceServers` (declared here: the hub has no DOM types). */
export interface IceServer {
  urls: string[];
  username?: string;
  credential?: string;
}

/** ICE servers for one peer, and when their TURN credentials stop working (ms since the epoch). */
export interface IceGrant {
  iceServers: IceServer[];
  expiresAt?: number;
}

/** Mints the ICE servers of a join answer. */
export interface IceServers {
  /** The servers for `peer` (never rejects: without TURN credentials, STUN only). */
  forPeer(peer: string): Promise<IceGrant>;
}

export interface IceSettings {
  /** `stun:` URLs, handed out as they are. */
  stunUrls: readonly string[];
  /** `turn:`/`turns:` URLs of a TURN server that shares `turnSecret`. */
  turnUrls: readonly string[];
  turnSecret?: string | undefined;
  /** Lifetime of TURN credentials, in seconds. */
  turnTtl: number;
  /** Cloudflare TURN: the TURN key id and its API token. */
  cloudflareKeyId?: string | undefined;
  cloudflareToken?: string | undefined;
}

/** Base of Cloudflare's TURN credentials API. */
export const CLOUDFLARE_TURN_API = 'https://rtc.live.cloudflare.com/v1/turn/keys/';

const utf8 = new TextEncoder();

function base64(bytes: ArrayBuffer): string {
  let binary = '';
  for (const b of new Uint8Array(bytes)) binary += String.fromCharCode(b);
  return btoa(binary);
}

/**
 * TURN credentials under a shared secret (coturn `--use-auth-secret --static-auth-secret=…`).
 *
 * @example
 * const mint = sharedSecretTurn({ secret: 's3cret', urls: ['turn:turn.example.com:3478'], ttl: 3600 });
 * const { iceServers } = await mint('k3J0c2VhbGVkLXR');
 * // [{ urls: ['turn:…'], username: '1767225600:k3J0c2VhbGVkLXR', credential: 'base64…' }]
 */
export function sharedSecretTurn(options: {
  secret: string;
  urls: readonly string[];
  ttl: number;
  now?: () => number;
}): (peer: string) => Promise<IceGrant> {
  const key = crypto.subtle.importKey(
    'raw',
    utf8.encode(options.secret),
    { name: 'HMAC', hash: 'SHA-1' },
    false,
    ['sign'],
  );
  const now = options.now ?? Date.now;
  return async (peer) => {
    const expiry = Math.floor(now() / 1000) + options.ttl;
    const username = `${expiry}:${peer}`;
    const mac = await crypto.subtle.sign('HMAC', await key, utf8.encode(username));
    return {
      iceServers: [{ urls: [...options.urls], username, credential: base64(mac) }],
      expiresAt: expiry * 1000,
    };
  };
}

/** The parts of Cloudflare's answer we use; anything else in it is ignored. */
function parseCloudflare(body: unknown): IceServer[] | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const listed = (body as { iceServers?: unknown }).iceServers;
  // The older `…/credentials/generate` endpoint answers one object rather than a list.
  const entries = Array.isArray(listed) ? listed : listed === undefined ? [] : [listed];
  const servers: IceServer[] = [];
  for (const entry of entries) {
    if (typeof entry !== 'object' || entry === null) return undefined;
    const { urls, username, credential } = entry as Record<string, unknown>;
    const list = typeof urls === 'string' ? [urls] : urls;
    if (!Array.isArray(list) || !list.every((u) => typeof u === 'string' && /^(stun|turns?):/.test(u))) {
      return undefined;
    }
    if (username !== undefined && typeof username !== 'string') return undefined;
    if (credential !== undefined && typeof credential !== 'string') return undefined;
    servers.push({
      urls: list as string[],
      ...(username !== undefined ? { username } : {}),
      ...(credential !== undefined ? { credential } : {}),
    });
  }
  return servers.length > 0 ? servers : undefined;
}

/**
 * TURN credentials from Cloudflare's TURN service, shared by every peer and renewed when half of
 * their lifetime is gone. A failed call is logged and retried at the next join, at most every 10 s.
 */
export function cloudflareTurn(options: {
  keyId: string;
  token: string;
  ttl: number;
  /** The API base (ends with `/keys/`); tests point it at a local fake. */
  endpoint?: string;
  fetch?: typeof fetch;
  now?: () => number;
}): () => Promise<IceGrant> {
  const now = options.now ?? Date.now;
  const request = options.fetch ?? ((input, init) => fetch(input, init));
  const url = `${options.endpoint ?? CLOUDFLARE_TURN_API}${encodeURIComponent(options.keyId)}/credentials/generate-ice-servers`;
  let cached: { grant: IceGrant; renewAt: number } | undefined;
  let inflight: Promise<IceGrant> | undefined;
  let failedAt = Number.NEGATIVE_INFINITY;

  const refresh = async (): Promise<IceGrant> => {
    const started = now();
    try {
      const response = await request(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${options.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ ttl: options.ttl }),
        signal: AbortSignal.timeout(5000),
      });
      if (!response.ok) throw new Error(`Cloudflare TURN answered ${response.status}`);
      const servers = parseCloudflare(await response.json());
      if (!servers) throw new Error('Cloudflare TURN answered without usable ICE servers');
      const grant = { iceServers: servers, expiresAt: started + options.ttl * 1000 };
      cached = { grant, renewAt: started + (options.ttl * 1000) / 2 };
      return grant;
    } catch (error) {
      failedAt = now();
      console.error('ssehub: could not get TURN credentials from Cloudflare', error);
      throw error;
    } finally {
      inflight = undefined;
    }
  };

  return async () => {
    const t = now();
    if (cached && t < cached.renewAt) return cached.grant;
    const usable = cached && t < (cached.grant.expiresAt ?? 0) - 60_000 ? cached.grant : undefined;
    if (t - failedAt < 10_000) {
      if (usable) return usable;
      throw new Error('Cloudflare TURN unavailable');
    }
    inflight ??= refresh();
    // Renewing early: the current credentials still serve this join while the call is out.
    if (usable) {
      inflight.catch(() => {});
      return usable;
    }
    return inflight;
  };
}

/** The ICE servers of this hub's join answers, from the settings. */
export function createIceServers(settings: IceSettings): IceServers {
  const stun: IceServer[] = settings.stunUrls.length > 0 ? [{ urls: [...settings.stunUrls] }] : [];
  const secret =
    settings.turnSecret && settings.turnUrls.length > 0
      ? sharedSecretTurn({ secret: settings.turnSecret, urls: settings.turnUrls, ttl: settings.turnTtl })
      : undefined;
  const cloudflare =
    settings.cloudflareKeyId && settings.cloudflareToken
      ? cloudflareTurn({
          keyId: settings.cloudflareKeyId,
          token: settings.cloudflareToken,
          ttl: settings.turnTtl,
        })
      : undefined;
  return {
    async forPeer(peer) {
      const grants: IceGrant[] = [{ iceServers: stun }];
      if (secret) grants.push(await secret(peer));
      if (cloudflare) {
        try {
          grants.push(await cloudflare());
        } catch {
          // Logged by the provider; this peer gets the other servers.
        }
      }
      const expiries = grants.flatMap((g) => (g.expiresAt === undefined ? [] : [g.expiresAt]));
      return {
        iceServers: grants.flatMap((g) => g.iceServers),
        ...(expiries.length > 0 ? { expiresAt: Math.min(...expiries) } : {}),
      };
    },
  };
}
