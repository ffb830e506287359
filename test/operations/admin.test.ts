/**
 * The admin API and `ssehub admin`, black-box: every action works with the admin key or an admin
 * token and is refused without (401) or with a token that lacks the action (403); a revoked token
 * cannot subscribe or publish and its open streams close; on two instances on Redis an action taken
 * on one reaches the streams and the requests of the other.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../cli/run.ts';
import { publish, q, subscribe, uniqueTopic } from '../conformance/client.ts';
import { fixtureEnv } from '../conformance/target.ts';
import { bearer, detail, draft } from '../conformance/tokens.ts';
import { type HubInstance, startHubs } from '../helpers/cluster.ts';
import { startNodeHub } from '../helpers/hub.ts';
import { type RedisServer, skipRedis, startRedis } from '../helpers/redis.ts';
import { eventually } from '../helpers/sse.ts';

const ADMIN_KEY = 'admin-key-for-tests-0123456789';
const ADMIN_DETAIL = 'urn:ssehub:admin';

const readerAs = (claims: Record<string, unknown>) =>
  draft([detail(['subscribe'], [{ match: '*' }])], {}, claims);
const publisherAs = (claims: Record<string, unknown>) =>
  draft([detail(['publish'], [{ match: '*' }])], {}, claims);
const adminToken = (actions: string[]) => draft([{ type: ADMIN_DETAIL, actions }]);

/** Calls the admin API. */
async function admin(
  base: string,
  path: string,
  options: { method?: string; body?: unknown; auth?: string | null } = {},
) {
  const headers: Record<string, string> = {};
  const auth = options.auth === undefined ? ADMIN_KEY : options.auth;
  if (auth !== null) headers.authorization = `Bearer ${auth}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${base}${path}`, {
    method: options.method ?? (options.body === undefined ? 'GET' : 'POST'),
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, json: () => JSON.parse(text) };
}

describe('the admin API on one instance', () => {
  let hub: Awaited<ReturnType<typeof startNodeHub>>;
  beforeAll(async () => {
    hub = await startNodeHub({ ...fixtureEnv, SSEHUB_ADMIN_KEY: ADMIN_KEY, SSEHUB_ADMIN_TOKENS: 'true' });
  });
  afterAll(() => hub?.stop());

  const calls = [
    { path: '/admin/topics' },
    { path: '/admin/subscribers?match=%2Fx' },
    { path: '/admin/revocations' },
    { path: '/admin/disconnect', body: { sub: 'nobody' } },
    { path: '/admin/revoke', body: { sub: 'nobody', ttl: 60 } },
    { path: '/admin/revocations?sub=nobody', method: 'DELETE' },
  ];

  it('refuses every action without the admin credential, with a wrong one, and with a plain token', async () => {
    const plain = await publisherAs({ sub: 'someone' });
    const readOnly = await adminToken(['read']);
    for (const call of calls) {
      const none = await admin(hub.url, call.path, { ...call, auth: null });
      expect(none.status, call.path).toBe(401);
      expect(none.headers.get('www-authenticate')).toMatch(/^Bearer /);
      expect((await admin(hub.url, call.path, { ...call, auth: `${ADMIN_KEY}x` })).status, call.path).toBe(
        401,
      );
      expect((await admin(hub.url, call.path, { ...call, auth: plain })).status, call.path).toBe(403);
      // A cookie never authenticates the admin API.
      const cookie = await fetch(`${hub.url}${call.path}`, {
        method: call.method ?? (call.body ? 'POST' : 'GET'),
        headers: {
          cookie: `__Secure-mercure_access_token=${await adminToken(['read', 'disconnect', 'revoke'])}`,
        },
      });
      expect(cookie.status, call.path).toBe(401);
      await cookie.body?.cancel();
    }
    // A token with the `read` action reads, and may do nothing else.
    expect((await admin(hub.url, '/admin/topics', { auth: readOnly })).status).toBe(200);
    expect((await admin(hub.url, '/admin/disconnect', { body: { sub: 'x' }, auth: readOnly })).status).toBe(
      403,
    );
  });

  it('lists topics with subscriber counts and the subscribers of a topic, paged', async () => {
    const a = uniqueTopic('a');
    const b = uniqueTopic('b');
    const frank = await readerAs({ sub: 'frank' });
    const streams = [
      await subscribe(hub.url, `match=${q(a)}`, bearer(frank)),
      await subscribe(hub.url, `match=${q(a)}&match=${q(b)}`),
      await subscribe(hub.url, `match=${q(a)}`),
    ];
    let topics: Array<{ match: string; match_type: string; subscribers: number }> = [];
    await eventually(async () => {
      topics = (await admin(hub.url, '/admin/topics?limit=1000')).json().topics;
      return topics.some((t) => t.match === a && t.subscribers === 3);
    }, 'the subscriptions listed');
    expect(topics.find((t) => t.match === a)).toEqual({ match: a, match_type: 'exact', subscribers: 3 });
    expect(topics.find((t) => t.match === b)).toEqual({ match: b, match_type: 'exact', subscribers: 1 });
    const first = (await admin(hub.url, '/admin/topics?limit=1')).json();
    expect(first.topics).toHaveLength(1);
    const second = (await admin(hub.url, `/admin/topics?limit=1&after=${q(first.next)}`)).json();
    expect(second.topics[0]).not.toEqual(first.topics[0]);

    const listed = (await admin(hub.url, `/admin/subscribers?match=${q(a)}`)).json();
    expect(listed.subscribers).toHaveLength(3);
    expect(listed.subscribers.filter((s: { sub?: string }) => s.sub === 'frank')).toHaveLength(1);
    const paged = (await admin(hub.url, `/admin/subscribers?match=${q(a)}&limit=2`)).json();
    expect(paged.subscribers).toHaveLength(2);
    const rest = (
      await admin(hub.url, `/admin/subscribers?match=${q(a)}&limit=2&after=${q(paged.next)}`)
    ).json();
    expect(rest.subscribers).toHaveLength(1);
    expect((await admin(hub.url, '/admin/topics?limit=0')).status).toBe(400);
    for (const s of streams) s.close();
  });

  it('disconnects one subscriber by id, and every stream of a subject', async () => {
    const topic = uniqueTopic();
    const grace = await readerAs({ sub: `grace-${crypto.randomUUID()}` });
    const graceSub = JSON.parse(atob(grace.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/'))).sub;
    const mine = [
      await subscribe(hub.url, `match=${q(topic)}`, bearer(grace)),
      await subscribe(hub.url, `match=${q(topic)}`, bearer(grace)),
    ];
    const other = await subscribe(hub.url, `match=${q(topic)}`);
    const target = await subscribe(hub.url, `match=${q(topic)}`);
    let ids: string[] = [];
    await eventually(async () => {
      const rows = (await admin(hub.url, `/admin/subscribers?match=${q(topic)}`)).json().subscribers;
      ids = rows
        .filter((r: { sub?: string }) => r.sub === undefined)
        .map((r: { subscriber: string }) => r.subscriber);
      return rows.length === 4;
    }, 'four subscribers listed');
    const bySub = await admin(hub.url, '/admin/disconnect', { body: { sub: graceSub } });
    expect(bySub.json()).toEqual({ disconnected: 2 });
    await Promise.all(mine.map((s) => s.ended));
    expect(mine.every((s) => s.endedCleanly)).toBe(true);
    // One of the two anonymous ones, by its subscriber id, with a retry hint.
    const byId = await admin(hub.url, '/admin/disconnect', { body: { subscriber: ids[0], retry: 30000 } });
    expect(byId.json()).toEqual({ disconnected: 1 });
    await eventually(() => other.isEnded || target.isEnded, 'the chosen stream ended');
    const [closed, open] = other.isEnded ? [other, target] : [target, other];
    expect(closed.retries.at(-1)).toBe(30000);
    expect(open.isEnded).toBe(false);
    expect((await admin(hub.url, '/admin/disconnect', { body: {} })).status).toBe(400);
    open.close();
  });

  it('revokes by jti and by sub: the tokens cannot subscribe or publish, their streams close, lifting restores them', async () => {
    const topic = uniqueTopic();
    const jti = crypto.randomUUID();
    const reader = await readerAs({ jti, sub: 'heidi' });
    const publisher = await publisherAs({ sub: `ivan-${crypto.randomUUID()}` });
    const ivan = JSON.parse(atob(publisher.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/'))).sub;
    const stream = await subscribe(hub.url, `match=${q(topic)}`, bearer(reader));
    await stream.waitFor(() => stream.retries.length > 0, 'the stream to open');
    expect((await publish(hub.url, { topic, data: 'before' }, { token: publisher })).status).toBe(200);

    const revoked = await admin(hub.url, '/admin/revoke', { body: { jti, ttl: 600 } });
    expect(revoked.status).toBe(200);
    expect(revoked.json()).toMatchObject({ revoked: { jti }, disconnected: 1 });
    await stream.ended;
    const again = await subscribe(hub.url, `match=${q(topic)}`, bearer(reader));
    expect(again.status).toBe(401);
    expect(again.headers.get('www-authenticate')).toContain('error="invalid_token"');
    // Another token of the same subject is not that jti: it still works.
    const sibling = await subscribe(hub.url, `match=${q(topic)}`, bearer(await readerAs({ sub: 'heidi' })));
    expect(sibling.status).toBe(200);
    sibling.close();

    const bySub = await admin(hub.url, '/admin/revoke', {
      body: { sub: ivan, until: Math.floor(Date.now() / 1000) + 600 },
    });
    expect(bySub.status).toBe(200);
    const refused = await publish(hub.url, { topic, data: 'after' }, { token: publisher });
    expect(refused.status).toBe(401);

    const list = (await admin(hub.url, '/admin/revocations')).json().revocations;
    expect(list).toEqual(
      expect.arrayContaining([expect.objectContaining({ jti }), expect.objectContaining({ sub: ivan })]),
    );
    const lifted = await admin(hub.url, `/admin/revocations?sub=${q(ivan)}`, { method: 'DELETE' });
    expect(lifted.json()).toEqual({ lifted: true });
    expect((await publish(hub.url, { topic, data: 'lifted' }, { token: publisher })).status).toBe(200);
    expect((await admin(hub.url, '/admin/revoke', { body: { jti, sub: 'both' } })).status).toBe(400);
    expect((await admin(hub.url, '/admin/revoke', { body: { sub: 'x', until: 1 } })).status).toBe(400);
    const metrics = await (await fetch(`${hub.url}/metrics`)).text();
    expect(metrics).toMatch(/^ssehub_streams_closed_total\{reason="revoked"\} [1-9]/m);
  });

  it('is driven by `ssehub admin`, which needs the key', async () => {
    const env = { SSEHUB_ADMIN_URL: hub.url, SSEHUB_ADMIN_KEY: ADMIN_KEY };
    const topics = await runCli(['admin', 'topics'], env);
    expect(topics.code, topics.stderr).toBe(0);
    expect(JSON.parse(topics.stdout)).toHaveProperty('topics');
    const sub = `judy-${crypto.randomUUID()}`;
    const revoke = await runCli(['admin', 'revoke', '--sub', sub, '--ttl', '60'], env);
    expect(revoke.code, revoke.stderr).toBe(0);
    expect(JSON.parse(revoke.stdout)).toMatchObject({ revoked: { sub }, disconnected: 0 });
    const listed = await runCli(['admin', 'revocations'], env);
    expect(JSON.parse(listed.stdout).revocations).toEqual(
      expect.arrayContaining([expect.objectContaining({ sub })]),
    );
    const lift = await runCli(['admin', 'lift', '--sub', sub], env);
    expect(JSON.parse(lift.stdout)).toEqual({ lifted: true });
    const wrong = await runCli(['admin', 'topics'], { ...env, SSEHUB_ADMIN_KEY: 'wrong' });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('401');
    const missing = await runCli(['admin', 'topics'], { SSEHUB_ADMIN_URL: hub.url });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('SSEHUB_ADMIN_KEY');
  });
});

describe('the admin API off', () => {
  it('is not served unless configured', async () => {
    const hub = await startNodeHub(fixtureEnv);
    try {
      expect((await admin(hub.url, '/admin/topics')).status).toBe(404);
    } finally {
      await hub.stop();
    }
  });
});

describe.skipIf(skipRedis)('the admin API across two instances on Redis', () => {
  let redis: RedisServer;
  let hubs: HubInstance[];
  beforeAll(async () => {
    redis = await startRedis();
    hubs = await startHubs(2, redis.url, { SSEHUB_ADMIN_KEY: ADMIN_KEY });
  });
  afterAll(async () => {
    await Promise.all((hubs ?? []).map((h) => h.stop()));
    await redis?.dispose();
  });

  it('lists, disconnects and revokes on every instance from one', async () => {
    const [a, b] = hubs as [HubInstance, HubInstance];
    const topic = uniqueTopic();
    const sub = `mallory-${crypto.randomUUID()}`;
    const token = await readerAs({ sub });
    const other = uniqueTopic();
    const onB = await subscribe(b.url, `match=${q(topic)}`, bearer(token));
    const kickMe = await subscribe(b.url, `match=${q(other)}`);
    await eventually(
      async () =>
        (await admin(a.url, `/admin/subscribers?match=${q(other)}`)).json().subscribers.length === 1,
      'the subscriber on B listed on A',
    );
    const [anonymous] = (await admin(a.url, `/admin/subscribers?match=${q(other)}`)).json().subscribers;
    expect(anonymous.local).toBe(false);
    // Disconnect on A, by subscriber id: the stream on B ends.
    expect(
      (await admin(a.url, '/admin/disconnect', { body: { subscriber: anonymous.subscriber } })).status,
    ).toBe(200);
    await kickMe.ended;
    // Revoke on A: the stream on B ends, and B refuses the token.
    expect((await admin(a.url, '/admin/revoke', { body: { sub, ttl: 600 } })).status).toBe(200);
    await onB.ended;
    await eventually(async () => {
      const s = await subscribe(b.url, `match=${q(topic)}`, bearer(token));
      s.close();
      return s.status === 401;
    }, 'B to refuse the revoked subject');
    // The denylist is in Redis: an instance that starts later knows it.
    const [late] = await startHubs(1, redis.url, { SSEHUB_ADMIN_KEY: ADMIN_KEY });
    try {
      const s = await subscribe(late!.url, `match=${q(topic)}`, bearer(token));
      expect(s.status).toBe(401);
    } finally {
      await late!.stop();
    }
  });
});
