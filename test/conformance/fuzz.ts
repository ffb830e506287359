/** Fuzzed tokens and headers: never a crash, never a hang, always 400 or 401. */
import { createHmac } from 'node:crypto';
import { createConnection } from 'node:net';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { HUB, publish, publishOk, uniqueTopic } from './client.ts';
import { FIXTURE_ISSUER, FIXTURE_KEY, FIXTURE_RESOURCE, type Target } from './target.ts';
import { bearer, DETAIL, detail, draft } from './tokens.ts';

/** Sends raw bytes as the Authorization header value; resolves with the status line's code. */
function rawRequest(base: string, value: Uint8Array): Promise<number> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: hostname, port: Number(port) });
    let text = '';
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
      const match = /^HTTP\/1\.1 (\d{3})/.exec(text);
      if (match) {
        resolve(Number(match[1]));
        socket.destroy();
      }
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`closed without a status: ${JSON.stringify(text)}`)));
    socket.write(
      Buffer.concat([
        Buffer.from(`GET ${HUB}?match=%2Ffuzz HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer `),
        value,
        Buffer.from('\r\nConnection: close\r\n\r\n'),
      ]),
    );
  });
}

function hs256(payload: string): string {
  const head = Buffer.from('{"alg":"HS256","typ":"at+jwt"}').toString('base64url');
  const body = Buffer.from(payload).toString('base64url');
  const mac = createHmac('sha256', FIXTURE_KEY).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${mac}`;
}

export function fuzzTests(target: () => Target) {
  const url = () => target().url;
  const status = async (headers: Record<string, string>) => {
    const res = await fetch(`${url()}${HUB}?match=%2Ffuzz`, { headers });
    await res.body?.cancel();
    return res.status;
  };

  it('answers random tokens, truncated JWTs and mangled segments with 401 (or 400)', async () => {
    const real = await draft([detail(['subscribe'], [{ match: '*' }])]);
    const tokenish = fc.oneof(
      fc.stringMatching(/^[A-Za-z0-9\-._~+/]{1,300}=*$/),
      fc.integer({ min: 1, max: real.length - 1 }).map((n) => real.slice(0, n)),
      fc
        .tuple(fc.integer({ min: 0, max: real.length - 1 }), fc.constantFrom('A', '.', '_', '-'))
        .map(([i, c]) => real.slice(0, i) + c + real.slice(i + 1)),
      fc
        .array(fc.stringMatching(/^[A-Za-z0-9_-]{0,40}$/), { minLength: 1, maxLength: 6 })
        .map((p) => p.join('.'))
        // An empty cookie is no cookie (anonymous, 200), not a bad token.
        .filter((token) => token !== ''),
    );
    await fc.assert(
      fc.asyncProperty(tokenish, async (token) => {
        // Base64url's last character carries unused bits: a change there can leave every decoded byte
        // equal, which is the same token, rightly accepted.
        if (sameBytes(token, real)) return;
        const code = await status({ authorization: `Bearer ${token}` });
        expect([400, 401]).toContain(code);
        const viaCookie = await status({ cookie: `__Secure-mercure_access_token=${token}` });
        expect(viaCookie).toBe(401);
      }),
      { numRuns: 150 },
    );
  });

  it('answers random bytes in the Authorization header with 400 or 401', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 400 }), async (bytes) => {
        // CR and LF would end the header line early: the request itself then changes shape.
        const value = bytes.map((b) => (b === 13 || b === 10 ? 0x41 : b));
        expect([400, 401]).toContain(await rawRequest(url(), value));
      }),
      { numRuns: 100 },
    );
  });

  it('never accepts part of a token: one valid entry beside a broken one is always 401 invalid_token', async () => {
    await fc.assert(
      fc.asyncProperty(tokenShape(), async ({ details, topic }) => {
        const token = await draft(details);
        const published = await publish(url(), { topic, data: 'x' }, { token });
        expect(published.status).toBe(401);
        expect(published.headers.get('www-authenticate')).toContain('error="invalid_token"');
        const res = await fetch(`${url()}${HUB}?match=${encodeURIComponent(topic)}`, {
          headers: bearer(token),
        });
        await res.body?.cancel();
        expect(res.status).toBe(401);
        expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
      }),
      { numRuns: 100 },
    );
  });

  it('refuses huge tokens and huge claims with 401, and stays up', async () => {
    const hugeClaim = await draft(
      [detail(['subscribe'], [{ match: '*' }])],
      {},
      { junk: 'x'.repeat(40_000) },
    );
    const manyEntries = await draft(
      Array.from({ length: 70 }, () => detail(['subscribe'], [{ match: '*' }])),
    );
    const manyTopics = await draft([
      detail(
        ['subscribe'],
        Array.from({ length: 300 }, (_, i) => ({ match: `/${i}` })),
      ),
    ]);
    // Too deep for jose to sign: built by hand, signature and all.
    const deep = hs256(
      `{"iss":"${FIXTURE_ISSUER}","aud":"${FIXTURE_RESOURCE}","x":${'['.repeat(12_000)}${']'.repeat(12_000)}}`,
    );
    for (const token of [hugeClaim, manyEntries, manyTopics, deep, 'a'.repeat(50_000)]) {
      expect(await status({ authorization: `Bearer ${token}` }), `${token.length} chars`).toBe(401);
    }
    expect(await publishOk(url(), { topic: uniqueTopic(), data: 'still up' })).toMatch(/^urn:uuid:/);
  });
}

/** True when two compact JWTs decode to the same bytes segment by segment. */
function sameBytes(a: string, b: string): boolean {
  const sa = a.split('.');
  const sb = b.split('.');
  return (
    sa.length === sb.length &&
    sa.every((seg, i) => Buffer.from(seg, 'base64url').equals(Buffer.from(sb[i]!, 'base64url')))
  );
}

/** Controls (C0, DEL, C1) and Unicode format characters (Cf): never in a grant's `match`. */
const forbiddenChar = fc.constantFrom(
  ...'\u0000\u0009\u000a\u001f\u007f\u0080\u0085\u009f',
  ...'\u00ad\u0600\u061c\u06dd\u180e\u200b\u200c\u200d\u200e\u202a\u202e\u2060\u2066\ufeff\ufff9',
  '\u{110bd}',
  '\u{e0001}',
);

const scalar = fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null));
/** A JSON value that is not an object. */
const notObject = fc.oneof(scalar, fc.array(fc.jsonValue(), { maxLength: 3 }));
/** A JSON value that is not an array. */
const notArray = fc.oneof(scalar, fc.object());
/** A JSON value that is not a non-empty string. */
const notMatch = fc.oneof(
  fc.constant(''),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.object(),
  fc.array(fc.string(), { maxLength: 2 }),
);

/**
 * A current-draft token's `authorization_details`: one valid entry of ours granting publish and
 * subscribe on `topic`, one entry of ours broken in one random way, in either order, and maybe an
 * entry of another type (skipped, whatever it holds).
 */
function tokenShape() {
  const topic = fc.uuid().map((id) => `/fuzz/grants/${id}`);
  const match = fc.oneof(
    fc.constant('*'),
    fc.webPath().map((path) => `/x${path}`),
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }).filter((m) => !/[\p{Cc}\p{Cf}]/u.test(m)),
  );
  const goodTopic = fc.record({ match });
  const base = fc.record({
    actions: fc.subarray(['publish', 'subscribe', 'admin'], { minLength: 1 }),
    topics: fc.array(goodTopic, { minLength: 1, maxLength: 3 }),
  });
  const badTopic = fc.oneof(
    notObject,
    fc.record({ match_type: fc.constantFrom('exact', 'urlpattern') }),
    fc.record({ match: notMatch }),
    fc
      .tuple(match, forbiddenChar, fc.nat())
      .map(([m, c, at]) => ({ match: m.slice(0, at % (m.length + 1)) + c + m.slice(at % (m.length + 1)) })),
    fc.record({
      match,
      match_type: fc.oneof(notObject, fc.object()).filter((t) => t !== 'exact' && t !== 'urlpattern'),
    }),
    fc.record({
      match: fc.constantFrom('/(a', '/books/:id(', '/a/{b', '/:', '/(?<x>a)', '/a}b', '/a{b}?('),
      match_type: fc.constant('urlpattern'),
    }),
  );
  const broken = fc.oneof(
    // actions missing, empty, not an array, or not all strings
    base.map(({ topics }) => ({ type: DETAIL, topics })),
    base.map(({ topics }) => ({ type: DETAIL, actions: [], topics })),
    fc.tuple(base, notArray).map(([{ topics }, actions]) => ({ type: DETAIL, actions, topics })),
    fc
      .tuple(base, fc.oneof(fc.integer(), fc.constant(null), fc.object()))
      .map(([{ actions, topics }, odd]) => ({ type: DETAIL, actions: [...actions, odd], topics })),
    // topics missing, empty, not an array, or one of them broken
    base.map(({ actions }) => ({ type: DETAIL, actions })),
    base.map(({ actions }) => ({ type: DETAIL, actions, topics: [] })),
    fc.tuple(base, notArray).map(([{ actions }, topics]) => ({ type: DETAIL, actions, topics })),
    fc.tuple(base, badTopic, fc.nat()).map(([{ actions, topics }, bad, at]) => {
      const i = at % (topics.length + 1);
      return { type: DETAIL, actions, topics: [...topics.slice(0, i), bad, ...topics.slice(i)] };
    }),
    // a payload that is not an object
    fc.tuple(base, notObject).map(([entry, payload]) => ({ type: DETAIL, ...entry, payload })),
  );
  const other = fc.record({
    type: fc.constantFrom('https://example.com/other-detail', 'openid_credential'),
    actions: fc.jsonValue(),
    topics: fc.jsonValue(),
  });
  return fc
    .record({
      topic,
      broken,
      brokenFirst: fc.boolean(),
      other: fc.option(other, { nil: undefined }),
    })
    .map(({ topic, broken, brokenFirst, other }) => {
      const valid = detail(['publish', 'subscribe'], [{ match: topic }]);
      const details: unknown[] = brokenFirst ? [broken, valid] : [valid, broken];
      if (other) details.splice(1, 0, other);
      return { details, topic };
    });
}
