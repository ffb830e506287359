/**
 * What the conformance suite runs against: a hub at a base URL, started with the fixture settings
 * below, plus capability flags for what a runtime can or cannot show (no `if (runtime)` in tests).
 */
import { hs256Token } from '../helpers/hub.ts';
import { fixtureIssuers } from './keys.ts';

export interface Target {
  /** Base URL, e.g. `http://127.0.0.1:4321`. */
  readonly url: string;
  /** Stops the hub (SIGTERM); resolves with the exit code or signal, when the runtime reports one. */
  stop(): Promise<number | string | undefined>;
}

/**
 * Starts another hub of the same runtime with the fixture settings plus `overrides` (legacy mode,
 * connection limits, anonymous subscribers refused…).
 */
export type Start = (overrides?: Record<string, string>) => Promise<Target>;

/**
 * A hub process as a {@link Target}: `stop` ends it, runs `cleanup` (e.g. removes its storage), and
 * resolves with how it exited. Every runtime's spawner wraps its process with this.
 */
export function processTarget(
  hub: { readonly url: string; stop(): Promise<unknown>; readonly exited: Promise<number | string> },
  cleanup?: () => Promise<void>,
): Target {
  return {
    url: hub.url,
    stop: async () => {
      await hub.stop();
      await cleanup?.();
      return hub.exited;
    },
  };
}

export interface Capabilities {
  /** SIGTERM ends every stream cleanly and the process exits 0. */
  gracefulShutdown: boolean;
  /**
   * A subscription whose topics span shards carries composite event ids, `~{positions}~{update id}`
   * (a sharded Workers hub: one position per shard, so that one `Last-Event-ID` resumes them all).
   * The suite compares the update id part with what publishers were answered; the bytes on the wire
   * keep the whole id.
   */
  compositeIds?: boolean;
  /**
   * `SSEHUB_MAX_CONNECTIONS` bounds each object that holds streams (a Workers relay), not the whole
   * hub: no one place sees every stream. Per-client limits hold as everywhere (a client's streams
   * share a relay).
   */
  connectionLimitPerObject?: boolean;
  /**
   * Rate limits count in each object a request reaches (a sharded Workers hub: publishes to topics of
   * different shards count in different shards), not across the hub.
   */
  rateLimitPerObject?: boolean;
}

/** Signing key of the fixture; every runtime is started with it. */
export const FIXTURE_KEY = 'conformance-secret-key-0123456789abcdef';
/** The issuer the fixture trusts with {@link FIXTURE_KEY}. */
export const FIXTURE_ISSUER = 'https://localhost';
/** The fixture hub's resource identifier: tokens' `aud`. */
export const FIXTURE_RESOURCE = 'https://localhost/.well-known/mercure';
/** The only browser origin the fixture allows (CORS). */
export const FIXTURE_ORIGIN = 'https://app.example.com';

/** Settings every runtime is started with (as environment variables, or Worker vars). */
export const fixtureEnv: Record<string, string> = {
  SSEHUB_JWT_KEY: FIXTURE_KEY,
  SSEHUB_ISSUER: FIXTURE_ISSUER,
  SSEHUB_RESOURCE: FIXTURE_RESOURCE,
  SSEHUB_ISSUERS: JSON.stringify(fixtureIssuers),
  SSEHUB_CORS_ORIGINS: `${FIXTURE_ORIGIN},http://localhost:8080`,
  SSEHUB_HEARTBEAT: '1',
  SSEHUB_RETRY: '500',
  SSEHUB_HISTORY_SIZE: '200',
  SSEHUB_MAX_QUEUE_BYTES: '65536',
  SSEHUB_MAX_BODY_BYTES: '4000000',
  SSEHUB_MAX_TOPICS: '8',
  SSEHUB_MAX_TOPIC_LENGTH: '512',
  SSEHUB_MAX_ID_BYTES: '200',
  SSEHUB_MAX_MATCHERS: '16',
  SSEHUB_MAX_MATCHER_LENGTH: '256',
};

const DETAIL = 'https://mercure.rocks/authorization-detail';

/** A publisher token allowed to publish anywhere. */
export const publisherToken = (expiresIn?: number) =>
  hs256Token(
    FIXTURE_KEY,
    {
      iss: FIXTURE_ISSUER,
      aud: FIXTURE_RESOURCE,
      authorization_details: [{ type: DETAIL, actions: ['publish'], topics: [{ match: '*' }] }],
    },
    { expiresIn },
  );

/** A subscriber token granting `subscribe` on the given matchers (default: everything). */
export const subscriberToken = (
  topics: Array<{ match: string; match_type?: 'exact' | 'urlpattern' }> = [{ match: '*' }],
  expiresIn?: number,
) =>
  hs256Token(
    FIXTURE_KEY,
    {
      iss: FIXTURE_ISSUER,
      aud: FIXTURE_RESOURCE,
      authorization_details: [{ type: DETAIL, actions: ['subscribe'], topics }],
    },
    { expiresIn },
  );
