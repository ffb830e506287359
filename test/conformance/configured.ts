/**
 * MERCURE.md — Authorization, what configuration names: the hub's resource identifier (default: its
 * public URL + hub path), the cookie that carries the token, and an issuer's keys from a JWKS URL.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { HUB, publish, q, subscribe, uniqueTopic } from './client.ts';
import { fixtureIssuers } from './keys.ts';
import { FIXTURE_ISSUER, FIXTURE_RESOURCE, type Start, type Target } from './target.ts';
import { bearer, detail, draft, sign } from './tokens.ts';

const PUBLIC_URL = 'https://hub.example';
/** What the resource identifier defaults to with that public URL. */
const RESOURCE = `${PUBLIC_URL}${HUB}`;
const COOKIE = 'hub_token';
const JWKS_ISSUER = 'https://jwks.example';

export function configuredTests(start: Start) {
  let hub: Target;
  let jwksServer: Server;
  const remote = generateKeyPair('ES256', { extractable: true });
  const url = () => hub.url;
  /** A token of the fixture's issuer for this hub's default resource identifier. */
  const token = (actions: string[], match: string) =>
    draft([detail(actions, [{ match }])], {}, { aud: RESOURCE });

  beforeAll(async () => {
    const jwk = { ...(await exportJWK((await remote).publicKey)), kid: 'remote-1', alg: 'ES256' };
    jwksServer = createServer((_, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
    const { port } = jwksServer.address() as AddressInfo;
    hub = await start({
      SSEHUB_PUBLIC_URL: PUBLIC_URL,
      // Empty is unset: the default applies.
      SSEHUB_RESOURCE: '',
      SSEHUB_COOKIE_NAME: COOKIE,
      SSEHUB_ISSUERS: JSON.stringify([
        ...fixtureIssuers,
        { issuer: JWKS_ISSUER, keys: [{ jwks_uri: `http://127.0.0.1:${port}/jwks.json` }] },
      ]),
    });
  });
  afterAll(async () => {
    await hub?.stop();
    jwksServer?.close();
  });

  it('defaults the resource identifier to the public URL + the hub path', async () => {
    const meta = await (await fetch(`${url()}/.well-known/oauth-protected-resource${HUB}`)).json();
    expect(meta.resource).toBe(RESOURCE);
    const accepted = await publish(
      url(),
      { topic: uniqueTopic(), data: 'x' },
      { token: await token(['publish'], '*') },
    );
    expect(accepted.status).toBe(200);
    const otherAudience = await draft([detail(['publish'], [{ match: '*' }])], {}, { aud: FIXTURE_RESOURCE });
    const refused = await publish(url(), { topic: uniqueTopic(), data: 'x' }, { token: otherAudience });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });

  it('reads the token from the configured cookie, and no longer from the default one', async () => {
    const meta = await (await fetch(`${url()}/.well-known/oauth-protected-resource${HUB}`)).json();
    expect(meta.mercure_cookie).toBe(COOKIE);
    const topic = uniqueTopic();
    const reader = await token(['subscribe'], topic);
    const configured = await subscribe(url(), `match=${q(topic)}`, { cookie: `${COOKIE}=${reader}` });
    const fixed = await subscribe(url(), `match=${q(topic)}`, {
      cookie: `__Secure-mercure_access_token=${reader}`,
    });
    const publisher = await token(['publish'], '*');
    const secret = await publish(url(), { topic, data: 'secret', private: 'on' }, { token: publisher });
    const open = await publish(url(), { topic, data: 'open' }, { token: publisher });
    expect((await configured.waitForEvents(2)).map((e) => e.id)).toEqual([secret.text, open.text]);
    expect((await fixed.waitForEvents(1)).map((e) => e.id)).toEqual([open.text]);
    configured.close();
    fixed.close();
  });

  it('verifies tokens with keys fetched from an issuer JWKS URL, for that issuer only', async () => {
    const { privateKey } = await remote;
    const claims = { aud: RESOURCE, authorization_details: [detail(['publish'], [{ match: '*' }])] };
    const options = { alg: 'ES256', key: privateKey, header: { kid: 'remote-1' } };
    const own = await sign({ iss: JWKS_ISSUER, ...claims }, options);
    expect((await publish(url(), { topic: uniqueTopic(), data: 'x' }, { token: own })).status).toBe(200);
    const borrowed = await sign({ iss: FIXTURE_ISSUER, ...claims }, options);
    expect((await publish(url(), { topic: uniqueTopic(), data: 'x' }, { token: borrowed })).status).toBe(401);
    const sub = await subscribe(url(), `match=${q(uniqueTopic())}`, bearer(own));
    expect(sub.status).toBe(200);
    sub.close();
  });
}
