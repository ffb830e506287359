/**
 * Access tokens for the scenarios whose requests carry one, minted as an application would mint
 * them for the hub (docs/authorization.md): HS256, `typ: at+jwt`, `iss` = the hub origin, `aud` =
 * its resource (the hub URL), `exp` in an hour, a `sub` per subscriber, and one
 * `authorization_details` grant on the bench topic. node:crypto signs them synchronously (a few
 * µs each), so thousands are minted before a storm without the generator showing it.
 *
 * The hub, started with the same secret in `SSEHUB_JWT_KEY`, verifies every one; Nchan and the
 * baseline have no token check and ignore the header.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { Target } from './subscriber.ts';

const AUTHORIZATION_DETAIL_TYPE = 'https://mercure.rocks/authorization-detail';
const HEADER = base64url(JSON.stringify({ alg: 'HS256', typ: 'at+jwt' }));

/** A fresh secret for one run (the hub's `SSEHUB_JWT_KEY`). */
export function freshKey(): string {
  return randomBytes(32).toString('base64url');
}

/** Mints the tokens of one scenario against one server. */
export class TokenMint {
  private readonly key: string;
  private readonly issuer: string;
  private readonly audience: string;
  private readonly exp: number;

  /**
   * @param key the run's secret
   * @param target where the requests go: the hub's default issuer and resource are its origin and
   *   hub URL there (no `SSEHUB_PUBLIC_URL` is set)
   */
  constructor(key: string, target: Target, ttlSeconds = 3600) {
    this.key = key;
    this.issuer = `http://${target.host}:${target.port}`;
    this.audience = `${this.issuer}/.well-known/mercure`;
    this.exp = Math.floor(Date.now() / 1000) + ttlSeconds;
  }

  /**
   * A subscriber's token: subscribe on `topic`, `sub` = `subject`.
   *
   * @example
   * const header = `Authorization: Bearer ${mint.subscriber(topic, 'bench-17')}\r\n`;
   */
  subscriber(topic: string, subject: string): string {
    return this.sign(subject, 'subscribe', topic);
  }

  /** The publisher's token: publish on `topic`. */
  publisher(topic: string): string {
    return this.sign('bench-publisher', 'publish', topic);
  }

  private sign(subject: string, action: 'publish' | 'subscribe', topic: string): string {
    const claims = {
      iss: this.issuer,
      aud: this.audience,
      exp: this.exp,
      sub: subject,
      authorization_details: [
        { type: AUTHORIZATION_DETAIL_TYPE, actions: [action], topics: [{ match: topic }] },
      ],
    };
    const signed = `${HEADER}.${base64url(JSON.stringify(claims))}`;
    return `${signed}.${createHmac('sha256', this.key).update(signed).digest('base64url')}`;
  }
}

function base64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}
