/**
 * Operator controls on every runtime (on Workers they run inside the hub's Durable Object): a publish
 * rate limit (429 with Retry-After), the admin API with a revocation that closes a stream and refuses
 * the token, the maximum connection age, and `/metrics` kept to the holders of its key.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { publish, q, subscribe, uniqueTopic } from './client.ts';
import type { Capabilities, Start, Target } from './target.ts';
import { bearer, detail, draft } from './tokens.ts';

const ADMIN_KEY = 'conformance-admin-key';
const METRICS_KEY = 'conformance-metrics-key';

export function operationsTests(start: Start, caps: Capabilities) {
  let hub: Target;
  beforeAll(async () => {
    hub = await start({
      SSEHUB_RATE_LIMIT_PUBLISH: '2/60s',
      SSEHUB_ADMIN_KEY: ADMIN_KEY,
      SSEHUB_MAX_CONNECTION_AGE: '2',
      SSEHUB_METRICS_KEY: METRICS_KEY,
    });
  });
  afterAll(() => hub?.stop());

  it('answers 429 with Retry-After past the publish rate limit', async () => {
    const token = await draft([detail(['publish'], [{ match: '*' }])], {}, { sub: 'rate-limited' });
    const statuses = [];
    let last: Awaited<ReturnType<typeof publish>> | undefined;
    // Where each object counts for itself, the three go to one topic: one object.
    const oneTopic = uniqueTopic();
    for (let i = 0; i < 3; i++) {
      const topic = caps.rateLimitPerObject ? oneTopic : uniqueTopic();
      last = await publish(hub.url, { topic, data: 'x' }, { token });
      statuses.push(last.status);
    }
    expect(statuses).toEqual([200, 200, 429]);
    expect(Number(last!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });

  it('revokes a token through the admin API: its stream closes and it is refused', async () => {
    const jti = crypto.randomUUID();
    const reader = await draft([detail(['subscribe'], [{ match: '*' }])], {}, { jti });
    const stream = await subscribe(hub.url, `match=${q(uniqueTopic())}`, bearer(reader));
    await stream.waitFor(() => stream.retries.length > 0, 'the stream to open');
    const refused = await fetch(`${hub.url}/admin/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jti }),
    });
    expect(refused.status).toBe(401);
    await refused.body?.cancel();
    const revoked = await fetch(`${hub.url}/admin/revoke`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ jti, ttl: 600 }),
    });
    expect(revoked.status).toBe(200);
    expect(await revoked.json()).toMatchObject({ revoked: { jti }, disconnected: 1 });
    await stream.ended;
    expect((await subscribe(hub.url, `match=${q(uniqueTopic())}`, bearer(reader))).status).toBe(401);
  });

  it('ends a stream near its maximum age', async () => {
    const opened = Date.now();
    const stream = await subscribe(hub.url, `match=${q(uniqueTopic())}`);
    await stream.ended;
    expect(Date.now() - opened).toBeGreaterThanOrEqual(1700);
    expect(Date.now() - opened).toBeLessThan(4000);
  });

  it('serves /metrics to the holder of the metrics key only (401 with a Bearer challenge otherwise)', async () => {
    const read = (authorization?: string) =>
      fetch(`${hub.url}/metrics`, authorization ? { headers: { authorization } } : {});
    const refusals: Array<[string | undefined, string]> = [
      [undefined, 'Bearer realm="metrics"'],
      [`Bearer ${METRICS_KEY}x`, 'Bearer realm="metrics", error="invalid_token"'],
      [`Bearer ${METRICS_KEY.slice(0, -1)}`, 'Bearer realm="metrics", error="invalid_token"'],
      [`Basic ${btoa(`metrics:${METRICS_KEY}`)}`, 'Bearer realm="metrics", error="invalid_token"'],
      // The admin API's key is not the metrics key.
      [`Bearer ${ADMIN_KEY}`, 'Bearer realm="metrics", error="invalid_token"'],
    ];
    for (const [authorization, challenge] of refusals) {
      const refused = await read(authorization);
      const body = await refused.text();
      expect([authorization, refused.status]).toEqual([authorization, 401]);
      expect(refused.headers.get('www-authenticate')).toBe(challenge);
      expect(body).not.toContain('ssehub_');
    }
    const served = await read(`Bearer ${METRICS_KEY}`);
    expect(served.status).toBe(200);
    expect(served.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await served.text()).toMatch(/^ssehub_connections \d+$/m);
  });
}
