/** MERCURE.md — CORS (explicit allowlist with credentials) and Discovery (protected resource metadata). */
import { expect, it } from 'vitest';
import { HUB, publishOk, q, subscribe, uniqueTopic } from './client.ts';
import { FIXTURE_ISSUER, FIXTURE_ORIGIN, FIXTURE_RESOURCE, type Target } from './target.ts';

const preflight = (base: string, origin: string, method = 'GET') =>
  fetch(`${base}${HUB}`, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': method,
      'access-control-request-headers': 'authorization',
    },
  });

export function corsTests(target: () => Target) {
  const url = () => target().url;

  it('answers preflights from an allowed origin with that origin and credentials, never *', async () => {
    for (const method of ['GET', 'POST']) {
      const res = await preflight(url(), FIXTURE_ORIGIN, method);
      expect(res.status).toBe(204);
      expect(res.headers.get('access-control-allow-origin')).toBe(FIXTURE_ORIGIN);
      expect(res.headers.get('access-control-allow-credentials')).toBe('true');
      expect(res.headers.get('access-control-allow-methods')).toContain(method);
      expect(res.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
      expect(res.headers.get('vary')).toContain('Origin');
    }
  });

  it('never reflects an origin outside the allowlist', async () => {
    for (const origin of [
      'https://evil.example',
      'null',
      `${FIXTURE_ORIGIN}.evil.example`,
      'http://app.example.com',
    ]) {
      const res = await preflight(url(), origin);
      expect(res.headers.get('access-control-allow-origin'), origin).toBeNull();
      expect(res.headers.get('access-control-allow-credentials'), origin).toBeNull();
      await res.text();
      const sub = await subscribe(url(), `match=${q(uniqueTopic())}`, { origin });
      expect(sub.status).toBe(200);
      expect(sub.headers.get('access-control-allow-origin'), origin).toBeNull();
      sub.close();
    }
  });

  it('lets an allowed origin read the stream and the reconciliation headers', async () => {
    const topic = uniqueTopic();
    const id = await publishOk(url(), { topic, data: 'x' });
    const sub = await subscribe(url(), `match=${q(topic)}&last_event_id=earliest`, {
      origin: FIXTURE_ORIGIN,
    });
    expect(sub.headers.get('access-control-allow-origin')).toBe(FIXTURE_ORIGIN);
    expect(sub.headers.get('access-control-allow-credentials')).toBe('true');
    expect(sub.headers.get('vary')).toBe('Origin');
    const exposed = sub.headers.get('access-control-expose-headers')?.toLowerCase() ?? '';
    expect(exposed).toContain('mercure-last-event-id');
    expect(exposed).toContain('last-event-id');
    expect((await sub.waitForEvents(1))[0]!.id).toBe(id);
    sub.close();
  });

  it('answers refusals to an allowed origin with CORS headers too (the page can read the challenge)', async () => {
    const res = await fetch(`${url()}${HUB}`, {
      method: 'POST',
      headers: { origin: FIXTURE_ORIGIN, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'topic=%2Fa&data=x',
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('access-control-allow-origin')).toBe(FIXTURE_ORIGIN);
    expect(res.headers.get('access-control-expose-headers')?.toLowerCase()).toContain('www-authenticate');
    await res.text();
  });

  it('answers a refused subscription with CORS headers for an allowed origin only', async () => {
    const refused = (origin: string) =>
      fetch(`${url()}${HUB}?match=${q(uniqueTopic())}`, {
        headers: { origin, accept: 'text/event-stream', authorization: 'Bearer not.a.token' },
      });
    const allowed = await refused(FIXTURE_ORIGIN);
    expect(allowed.status).toBe(401);
    expect(allowed.headers.get('www-authenticate')).toMatch(/^Bearer /);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(FIXTURE_ORIGIN);
    expect(allowed.headers.get('access-control-allow-credentials')).toBe('true');
    expect(allowed.headers.get('access-control-expose-headers')?.toLowerCase()).toContain('www-authenticate');
    expect(allowed.headers.get('vary')).toBe('Origin');
    await allowed.text();
    const other = await refused('https://evil.example');
    expect(other.status).toBe(401);
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    expect(other.headers.get('vary')).toBe('Origin');
    await other.text();
  });

  it('serves the protected resource metadata the challenges point to', async () => {
    const res = await fetch(`${url()}${HUB}`, { method: 'POST', body: 'topic=%2Fa' });
    const challenge = res.headers.get('www-authenticate')!;
    await res.text();
    const pointer = new URL(/resource_metadata="([^"]+)"/.exec(challenge)![1]!);
    // RFC 9728 §3.1: the metadata URL of the configured resource identifier, whatever Host was named;
    // the fixture's resource (https://localhost/…) is not where it listens, so fetch the same path here.
    expect(pointer.href).toBe(`${FIXTURE_ISSUER}/.well-known/oauth-protected-resource/.well-known/mercure`);
    const meta = await fetch(`${url()}${pointer.pathname}`);
    expect(meta.status).toBe(200);
    expect(meta.headers.get('content-type')).toMatch(/^application\/json/);
    const doc = await meta.json();
    expect(doc).toMatchObject({
      resource: FIXTURE_RESOURCE,
      authorization_details_types_supported: ['https://mercure.rocks/authorization-detail'],
      bearer_methods_supported: ['header'],
      mercure_cookie: '__Secure-mercure_access_token',
      mercure_matcher_types_supported: ['exact', 'urlpattern'],
      mercure_subscriptions: true,
    });
    expect(doc.authorization_servers).toEqual(
      expect.arrayContaining([
        FIXTURE_ISSUER,
        'https://rs.example',
        'https://es.example',
        'https://ed.example',
      ]),
    );
  });
}
