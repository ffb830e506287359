/** MERCURE.md — Authorization: token validation, issuers and keys, grants, presentation, challenges. */
import { exportJWK, exportPKCS8, generateKeyPair, importPKCS8 } from 'jose';
import { expect, it } from 'vitest';
import { HUB, publish, publishOk, q, subscribe, uniqueTopic } from './client.ts';
import { keys, SPLIT_PUBLISH_SECRET, SPLIT_SUBSCRIBE_SECRET } from './keys.ts';
import { FIXTURE_ISSUER, FIXTURE_ORIGIN, FIXTURE_RESOURCE, type Target } from './target.ts';
import { bearer, DETAIL, detail, draft, publishAll, sign, unsigned } from './tokens.ts';

/** What a refused token gets: 401, `invalid_token`, the metadata pointer, and no reason. */
async function expectInvalidToken(base: string, token: string, what: string) {
  const res = await publish(base, { topic: uniqueTopic(), data: 'x' }, { token });
  expect(res.status, what).toBe(401);
  const challenge = res.headers.get('www-authenticate') ?? '';
  expect(challenge, what).toMatch(/^Bearer /);
  expect(challenge, what).toContain('error="invalid_token"');
  // The metadata of the configured resource identifier (RFC 9728 §3.1), not of whatever Host was named.
  expect(challenge, what).toContain(
    `resource_metadata="${FIXTURE_ISSUER}/.well-known/oauth-protected-resource${HUB}"`,
  );
  expect(challenge, what).not.toContain('error_description');
  expect(res.text, what).toBe('invalid token\n');
}

export function authTests(target: () => Target) {
  const url = () => target().url;
  const publishGrant = (topics = [{ match: '*' }]) => detail(['publish'], topics);

  it('accepts a current-draft token carrying only iss, aud, exp and authorization_details', async () => {
    const topic = uniqueTopic();
    const token = await sign({
      iss: FIXTURE_ISSUER,
      aud: FIXTURE_RESOURCE,
      authorization_details: [detail(['publish', 'subscribe'], [{ match: topic }])],
    });
    const sub = await subscribe(url(), `match=${q(topic)}`, bearer(token));
    expect(sub.status).toBe(200);
    const res = await publish(url(), { topic, data: 'secret', private: 'on' }, { token });
    expect(res.status).toBe(200);
    expect((await sub.waitForEvents(1))[0]!.id).toBe(res.text);
    sub.close();
  });

  it('accepts aud as an array containing the resource, and application/at+jwt', async () => {
    const token = await sign(
      {
        iss: FIXTURE_ISSUER,
        aud: ['https://other.example', FIXTURE_RESOURCE],
        authorization_details: [publishGrant()],
      },
      { typ: 'application/at+jwt' },
    );
    expect((await publish(url(), { topic: uniqueTopic(), data: 'x' }, { token })).status).toBe(200);
  });

  it('verifies RS256 (PEM), ES256 (JWK) and EdDSA (JWKS) keys of their own issuers', async () => {
    const cases = [
      { iss: 'https://rs.example', alg: 'RS256', key: keys.rs },
      { iss: 'https://es.example', alg: 'ES256', key: keys.es },
      { iss: 'https://ed.example', alg: 'EdDSA', key: keys.ed, header: { kid: 'ed-1' } },
    ];
    for (const { iss, alg, key, header } of cases) {
      const claims = { aud: FIXTURE_RESOURCE, authorization_details: [publishGrant()] };
      const token = await sign({ iss, ...claims }, { alg, key, header });
      expect((await publish(url(), { topic: uniqueTopic(), data: 'x' }, { token })).status, alg).toBe(200);
      // Keys are bound to their issuer: the same signature claimed by another trusted issuer is refused.
      const other = await sign({ iss: FIXTURE_ISSUER, ...claims }, { alg, key, header });
      await expectInvalidToken(url(), other, `${alg} key under another issuer`);
    }
  });

  it.each([
    ['expired', () => draft([publishGrant()], { exp: -60 })],
    ['without exp', () => draft([publishGrant()], { exp: null })],
    ['not yet valid (nbf)', () => draft([publishGrant()], {}, { nbf: Math.floor(Date.now() / 1000) + 120 })],
    [
      'with a wrong aud',
      () => draft([publishGrant()], {}, { aud: 'https://other.example/.well-known/mercure' }),
    ],
    ['without aud', () => sign({ iss: FIXTURE_ISSUER, authorization_details: [publishGrant()] })],
    ['with a wrong iss', () => draft([publishGrant()], {}, { iss: 'https://evil.example' })],
    ['without iss', () => sign({ aud: FIXTURE_RESOURCE, authorization_details: [publishGrant()] })],
    ['with typ JWT', () => draft([publishGrant()], { typ: 'JWT' })],
    ['without typ', () => draft([publishGrant()], { typ: null })],
    [
      'signed with another key',
      () => draft([publishGrant()], { key: 'not-the-fixture-key-0123456789abcdef' }),
    ],
    [
      'with alg none',
      async () =>
        unsigned({ iss: FIXTURE_ISSUER, aud: FIXTURE_RESOURCE, authorization_details: [publishGrant()] }),
    ],
    [
      'with alg none and a signature copied from a real token',
      async () => {
        const real = await publishAll();
        return `${unsigned({ iss: FIXTURE_ISSUER, aud: FIXTURE_RESOURCE }).slice(0, -1)}.${real.split('.')[2]}`;
      },
    ],
    [
      'HS256-signed with the RS256 public key (algorithm confusion)',
      () =>
        sign(
          { iss: 'https://rs.example', aud: FIXTURE_RESOURCE, authorization_details: [publishGrant()] },
          { key: keys.rsPublicPem },
        ),
    ],
    [
      "signed with an algorithm outside its issuer's allowlist (PS256 with the RS256 key)",
      async () =>
        sign(
          { iss: 'https://rs.example', aud: FIXTURE_RESOURCE, authorization_details: [publishGrant()] },
          { alg: 'PS256', key: await importPKCS8(await exportPKCS8(keys.rs), 'PS256') },
        ),
    ],
    [
      'signed by a key of its own jwk header',
      async () => {
        const attacker = await generateKeyPair('ES256', { extractable: true });
        const jwk = await exportJWK(attacker.publicKey);
        return sign(
          { iss: 'https://es.example', aud: FIXTURE_RESOURCE, authorization_details: [publishGrant()] },
          { alg: 'ES256', key: attacker.privateKey, header: { jwk } },
        );
      },
    ],
    [
      'pointing at its own key set (jku, x5u)',
      async () => {
        const attacker = await generateKeyPair('RS256');
        return sign(
          { iss: 'https://rs.example', aud: FIXTURE_RESOURCE, authorization_details: [publishGrant()] },
          {
            alg: 'RS256',
            key: attacker.privateKey,
            header: { jku: `${url()}/evil.json`, x5u: `${url()}/evil.pem`, kid: 'evil' },
          },
        );
      },
    ],
    [
      "signed with the issuer's subscriber-only key, used to publish",
      () =>
        sign(
          { iss: 'https://split.example', aud: FIXTURE_RESOURCE, authorization_details: [publishGrant()] },
          { key: SPLIT_SUBSCRIBE_SECRET },
        ),
    ],
  ])('refuses a token %s (401 invalid_token, no reason given)', async (what, make) => {
    await expectInvalidToken(url(), await make(), what);
  });

  it('keeps publisher and subscriber keys apart', async () => {
    const claims = (actions: string[]) => ({
      iss: 'https://split.example',
      aud: FIXTURE_RESOURCE,
      authorization_details: [detail(actions, [{ match: '*' }])],
    });
    const publisher = await sign(claims(['publish']), { key: SPLIT_PUBLISH_SECRET });
    expect((await publish(url(), { topic: uniqueTopic(), data: 'x' }, { token: publisher })).status).toBe(
      200,
    );
    const subscriber = await sign(claims(['subscribe']), { key: SPLIT_SUBSCRIBE_SECRET });
    const ok = await subscribe(url(), `match=${q(uniqueTopic())}`, bearer(subscriber));
    expect(ok.status).toBe(200);
    ok.close();
    const wrongKey = await sign(claims(['subscribe']), { key: SPLIT_PUBLISH_SECRET });
    const refused = await subscribe(url(), `match=${q(uniqueTopic())}`, bearer(wrongKey));
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });

  it('answers every refused token with the same response, whatever the reason', async () => {
    const expired = await publish(
      url(),
      { topic: '/a', data: 'x' },
      { token: await draft([publishGrant()], { exp: -60 }) },
    );
    const forged = await publish(
      url(),
      { topic: '/a', data: 'x' },
      { token: await draft([publishGrant()], { key: 'x'.repeat(40) }) },
    );
    expect([expired.status, expired.text, expired.headers.get('www-authenticate')]).toEqual([
      forged.status,
      forged.text,
      forged.headers.get('www-authenticate'),
    ]);
  });

  it.each([
    ['not an array', { type: DETAIL, actions: ['publish'], topics: [{ match: '*' }] }],
    ['an entry without type', [{ actions: ['publish'], topics: [{ match: '*' }] }]],
    ['an entry that is a string', ['publish']],
    ['actions not an array', [{ type: DETAIL, actions: 'publish', topics: [{ match: '*' }] }]],
    ['topics missing', [{ type: DETAIL, actions: ['publish'] }]],
    ['a topic without match', [detail(['publish'], [{ match_type: 'exact' } as never])]],
    ['an unknown match_type', [detail(['publish'], [{ match: '*' }, { match: '/a', match_type: 'regex' }])]],
    [
      'a malformed URL pattern',
      [detail(['publish'], [{ match: '*' }, { match: '/(a', match_type: 'urlpattern' }])],
    ],
    [
      'a valid entry beside a malformed one',
      [detail(['publish'], [{ match: '*' }]), { type: DETAIL, actions: ['subscribe'], topics: 'x' }],
    ],
    ...(
      [
        ['empty topics', detail(['subscribe'], [])],
        ['empty actions', detail([], [{ match: '/a' }])],
        ['a match that is not a string', detail(['subscribe'], [{ match: 42 } as never])],
        ['an empty match', detail(['subscribe'], [{ match: '' }])],
        ['a match with a control character', detail(['subscribe'], [{ match: '/a\u0085b' }])],
        ['a match with a zero-width space (Cf)', detail(['subscribe'], [{ match: '/a\u200bb' }])],
        ['a match with a leading U+FEFF (Cf)', detail(['subscribe'], [{ match: '\ufeff/a' }])],
        ['an unknown match_type', detail(['subscribe'], [{ match: '/a', match_type: 'prefix' }])],
        ['a null match_type', detail(['subscribe'], [{ match: '/a', match_type: null } as never])],
        [
          'a malformed URL pattern',
          detail(['subscribe'], [{ match: '/books/:id(', match_type: 'urlpattern' }]),
        ],
        ['a payload that is a string', detail(['subscribe'], [{ match: '/a' }], { payload: 'Ada' })],
        ['a payload that is an array', detail(['subscribe'], [{ match: '/a' }], { payload: ['Ada'] })],
        ['a null payload', detail(['subscribe'], [{ match: '/a' }], { payload: null })],
      ] as const
    ).map(([what, broken]): [string, unknown] => [
      `a valid entry beside one with ${what}`,
      [detail(['publish'], [{ match: '*' }]), broken],
    ]),
  ])('refuses the whole token when authorization_details has %s (401)', async (what, details) => {
    await expectInvalidToken(
      url(),
      await sign({ iss: FIXTURE_ISSUER, aud: FIXTURE_RESOURCE, authorization_details: details }),
      what,
    );
  });

  it('ignores unknown actions and entries of other types', async () => {
    const topic = uniqueTopic();
    const mixed = await draft([
      detail(['read', 'publish', 'admin'], [{ match: topic }]),
      { type: 'https://example.com/other-detail', actions: ['publish'], locations: ['x'] },
      // Other types follow their own rules: what would break one of ours is none of our business.
      { type: 'https://example.com/other-detail', actions: [], topics: [], payload: 'x' },
    ]);
    expect((await publish(url(), { topic, data: 'x' }, { token: mixed })).status).toBe(200);
    const onlyUnknown = await draft([detail(['admin', 'write'], [{ match: '*' }])]);
    const res = await publish(url(), { topic, data: 'x' }, { token: onlyUnknown });
    expect(res.status).toBe(403);
    expect(res.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
  });

  it('needs publish on every topic of an update (403, nothing dispatched)', async () => {
    const [a, b] = [uniqueTopic('a'), uniqueTopic('b')];
    const watcher = await subscribe(url(), `match=${q(a)}&match=${q(b)}`);
    const token = await draft([detail(['publish'], [{ match: a }])]);
    const refused = await publish(
      url(),
      [
        ['topic', a],
        ['topic', b],
        ['data', 'both'],
      ],
      { token },
    );
    expect(refused.status).toBe(403);
    expect(refused.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
    expect(refused.headers.get('www-authenticate')).toContain('resource_metadata=');
    const marker = await publish(url(), { topic: a, data: 'only a' }, { token });
    expect(marker.status).toBe(200);
    expect((await watcher.waitForEvents(1)).map((e) => e.id)).toEqual([marker.text]);
    expect(watcher.text()).not.toContain('both');
    watcher.close();
  });

  it('grants URL patterns, relative to the hub, case-sensitively', async () => {
    const room = crypto.randomUUID();
    const token = await draft([
      detail(['publish'], [{ match: `/rooms/${room}/:id`, match_type: 'urlpattern' }]),
    ]);
    expect((await publish(url(), { topic: `/rooms/${room}/1`, data: 'x' }, { token })).status).toBe(200);
    // Relative grants cover the configured hub origin (the fixture's resource identifier's).
    const absolute = `${FIXTURE_ISSUER}/rooms/${room}/2`;
    expect((await publish(url(), { topic: absolute, data: 'x' }, { token })).status).toBe(200);
    const elsewhere = `${url()}/rooms/${room}/3`;
    for (const topic of [
      `/rooms/${room}/1/deeper`,
      `/ROOMS/${room}/1`,
      `/rooms/${room}`,
      'not a url',
      elsewhere,
    ]) {
      expect((await publish(url(), { topic, data: 'x' }, { token })).status, topic).toBe(403);
    }
  });

  it('answers 401 without an error code when no token is presented where one is needed', async () => {
    const res = await publish(url(), { topic: uniqueTopic(), data: 'x' }, { token: null });
    expect(res.status).toBe(401);
    const challenge = res.headers.get('www-authenticate')!;
    expect(challenge).toMatch(/^Bearer /);
    expect(challenge).toContain('resource_metadata=');
    expect(challenge).not.toContain('error=');
  });

  it.each([
    ['another scheme', 'Basic dXNlcjpwYXNz'],
    ['Bearer without a token', 'Bearer'],
    ['two tokens', 'Bearer a.b.c d.e.f'],
    ['a token with forbidden characters', 'Bearer a,b;c'],
  ])('answers a malformed Authorization header (%s) with 400 invalid_request', async (_, header) => {
    const res = await fetch(`${url()}${HUB}?match=%2Fa`, { headers: { authorization: header } });
    expect(res.status).toBe(400);
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_request"');
    await res.text();
  });

  it('reads the token from the cookie; the Authorization header wins over it', async () => {
    const [mine, other] = [uniqueTopic('mine'), uniqueTopic('other')];
    const cookieToken = await draft([detail(['subscribe'], [{ match: '*' }])]);
    const headerToken = await draft([detail(['subscribe'], [{ match: mine }])]);
    const cookie = `theme=dark; __Secure-mercure_access_token=${cookieToken}`;
    const byCookie = await subscribe(url(), `match=${q(mine)}&match=${q(other)}`, { cookie });
    const both = await subscribe(url(), `match=${q(mine)}&match=${q(other)}`, {
      cookie,
      ...bearer(headerToken),
    });
    const secretOther = await publishOk(url(), { topic: other, data: 'other', private: 'on' });
    const secretMine = await publishOk(url(), { topic: mine, data: 'mine', private: 'on' });
    expect((await byCookie.waitForEvents(2)).map((e) => e.id)).toEqual([secretOther, secretMine]);
    expect((await both.waitForEvents(1)).map((e) => e.id)).toEqual([secretMine]);
    byCookie.close();
    both.close();
    const badHeader = await subscribe(url(), `match=${q(mine)}`, {
      cookie,
      authorization: 'Bearer not.a.token',
    });
    expect(badHeader.status).toBe(401);
  });

  it('takes a cookie-authenticated publish only from the hub origin or an allowed origin (CSRF), and says why not (403)', async () => {
    const topic = uniqueTopic('csrf');
    const watcher = await subscribe(url(), `match=${q(topic)}`);
    const token = await publishAll();
    // A form POST is what any site can make a browser send, cookie included, without a preflight.
    const post = async (data: string, headers: Record<string, string>) => {
      const res = await fetch(`${url()}${HUB}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: `topic=${q(topic)}&data=${q(data)}`,
      });
      return { status: res.status, text: await res.text() };
    };
    const cookie = `__Secure-mercure_access_token=${token}`;
    for (const [what, headers] of [
      ['a foreign Origin', { origin: 'https://evil.example' }],
      ['a foreign Referer', { referer: 'https://evil.example/page' }],
      ['Origin: null', { origin: 'null', referer: `${FIXTURE_ORIGIN}/page` }],
      ['a look-alike Origin', { origin: `${FIXTURE_ORIGIN}.evil.example` }],
      ['neither Origin nor Referer', {}],
    ] as const) {
      const refused = await post(`evil: ${what}`, { cookie, ...headers });
      expect({ what, status: refused.status }).toEqual({ what, status: 403 });
      expect(refused.text).toMatch(/authenticated by a cookie must come from the hub's origin or an allowed/);
    }
    const allowed = await post('allowed origin', { cookie, origin: FIXTURE_ORIGIN });
    const byReferer = await post('allowed referer', { cookie, referer: `${FIXTURE_ORIGIN}/app?x=1` });
    const own = await post('hub origin', { cookie, origin: FIXTURE_ISSUER });
    // The Authorization header is not sent by a browser on its own: no origin check.
    const header = await post('header', { ...bearer(token), cookie, origin: 'https://evil.example' });
    const ok = [allowed, byReferer, own, header];
    expect(ok.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect((await watcher.waitForEvents(4)).map((e) => e.id)).toEqual(ok.map((r) => r.text));
    expect(watcher.text()).not.toContain('evil');
    watcher.close();
  });

  it('never reads a token from the URL', async () => {
    const topic = uniqueTopic();
    const token = await draft([detail(['subscribe', 'publish'], [{ match: '*' }])]);
    const sub = await subscribe(url(), `match=${q(topic)}&access_token=${token}&authorization=${token}`);
    expect(sub.status).toBe(200);
    await publishOk(url(), { topic, data: 'secret', private: 'on' });
    const open = await publishOk(url(), { topic, data: 'open' });
    expect((await sub.waitForEvents(1)).map((e) => e.id)).toEqual([open]);
    sub.close();
    const res = await fetch(`${url()}${HUB}?authorization=${token}&access_token=${token}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `topic=${q(topic)}&data=x`,
    });
    expect(res.status).toBe(401);
    await res.text();
  });
}
