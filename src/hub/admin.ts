/**
 * The admin API under `/admin/`: off unless the operator configures a credential. Who may call it: the
 * holder of `SSEHUB_ADMIN_KEY` (`Authorization: Bearer <key>`), and with `SSEHUB_ADMIN_TOKENS` the
 * holders of access tokens of the trusted issuers with an `urn:ssehub:admin` authorization detail
 * (`admin-grants.ts`). Never a cookie: a browser would attach it to requests from any site.
 *
 * - `GET /admin/topics` — topics (subscription matchers) with their subscriber counts, paged;
 * - `GET /admin/subscribers?match=…&match_type=…` — subscribers of one topic (or all), paged;
 * - `POST /admin/disconnect` `{"subscriber"}` or `{"sub"}` (and `"retry"` ms) — ends their streams;
 * - `POST /admin/revoke` `{"jti"}` or `{"sub"}`, `"until"` (s since the epoch) or `"ttl"` (s) — denies
 *   those tokens until then and ends their streams;
 * - `GET /admin/revocations`, `DELETE /admin/revocations?jti=…` (or `sub=`) — reads and lifts them.
 *
 * Listings come from the subscription registry, so they cover every instance (with Redis); with
 * subscription events off they cover this instance. Actions reach every instance through the control
 * plane; the counts they answer are this instance's.
 */
import { type Context, Hono } from 'hono';
import type { ActiveSubscription, SubscriptionRegistry } from '../brokers/index.ts';
import type { AdminAction } from './admin-grants.ts';
import { type Authorizer, insufficientScope, unauthorized } from './auth.ts';
import { bearerKey } from './bearer-key.ts';
import type { Dispatcher, Subscriber } from './dispatcher.ts';
import { badRequest, HubError } from './errors.ts';
import { readBody } from './form.ts';
import type { HubUrls } from './hub-url.ts';
import type { Operations } from './operations.ts';
import { checkRevocation, MAX_REVOCATIONS } from './revocations.ts';
import { subscriptionsOf } from './subscriptions.ts';

export interface AdminContext {
  operations: Operations;
  authorizer: Authorizer;
  dispatcher: Dispatcher;
  /** Undefined with subscription events off: listings are this instance's. */
  registry: SubscriptionRegistry | undefined;
  urls: HubUrls;
  hubPath: string;
}

const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;
/** Largest admin request body. */
const MAX_BODY = 16 * 1024;

/** The admin API's routes, or undefined when it is off. */
export function adminApi(ctx: AdminContext): Hono | undefined {
  const { operations } = ctx;
  const admin = operations.admin;
  if (!admin) return undefined;
  const holdsKey = admin.key === undefined ? undefined : bearerKey(admin.key);

  /** Checks the caller's credential for `action`. @throws {HubError} 401 or 403 */
  async function allow(c: Context, action: AdminAction): Promise<void> {
    const request = c.req.raw;
    const hubUrl = ctx.urls.of(request);
    const header = request.headers.get('authorization');
    if (header === null) throw unauthorized(hubUrl);
    if (holdsKey && (await holdsKey(header))) return;
    if (admin!.tokens) {
      let principal: Awaited<ReturnType<Authorizer['publisher']>>;
      try {
        principal = await ctx.authorizer.publisher(request, hubUrl);
      } catch {
        throw unauthorized(hubUrl, 'invalid_token');
      }
      if (principal.admin?.includes(action)) return;
      throw insufficientScope(hubUrl, `the token does not grant the admin action "${action}"`);
    }
    throw unauthorized(hubUrl, 'invalid_token');
  }

  const app = new Hono();

  app.get('/admin/topics', async (c) => {
    await allow(c, 'read');
    const { limit, after } = page(c);
    const counts = new Map<string, { match: string; match_type: string; subscribers: number }>();
    for (const s of await active(ctx)) {
      const key = `${s.match_type}:${s.match}`;
      const known = counts.get(key);
      if (known) known.subscribers++;
      else counts.set(key, { match: s.match, match_type: s.match_type, subscribers: 1 });
    }
    const keys = [...counts.keys()].filter((k) => after === undefined || k > after).sort();
    const shown = keys.slice(0, limit);
    return json({
      topics: shown.map((k) => counts.get(k)!),
      next: keys.length > limit ? shown.at(-1)! : null,
      scope: ctx.registry ? 'hub' : 'instance',
    });
  });

  app.get('/admin/subscribers', async (c) => {
    await allow(c, 'read');
    const { limit, after } = page(c);
    const match = c.req.query('match');
    const matchType = c.req.query('match_type');
    const local = new Map<string, Subscriber>();
    for (const s of ctx.dispatcher.subscribers) local.set(s.id, s);
    const rows = (await active(ctx))
      .filter(
        (s) =>
          (match === undefined || s.match === match) &&
          (matchType === undefined || s.match_type === matchType),
      )
      .filter((s) => after === undefined || s.subscriber > after)
      .sort((a, b) => (a.subscriber < b.subscriber ? -1 : a.subscriber > b.subscriber ? 1 : 0));
    // One row per subscriber: several of its matchers may select the same topic.
    const seen = new Set<string>();
    const out: Record<string, unknown>[] = [];
    let more = false;
    for (const s of rows) {
      if (seen.has(s.subscriber)) continue;
      if (out.length === limit) {
        more = true;
        break;
      }
      seen.add(s.subscriber);
      const here = local.get(s.subscriber);
      out.push({
        subscriber: s.subscriber,
        match: s.match,
        match_type: s.match_type,
        ...(s.payload !== undefined ? { payload: s.payload } : {}),
        local: here !== undefined,
        ...(here?.principal?.subject !== undefined ? { sub: here.principal.subject } : {}),
      });
    }
    return json({ subscribers: out, next: more ? (out.at(-1)?.subscriber ?? null) : null });
  });

  app.post('/admin/disconnect', async (c) => {
    await allow(c, 'disconnect');
    const body = await readJsonObject(c.req.raw);
    const { subscriber, sub, retry } = body;
    const named = [subscriber, sub].filter((v) => v !== undefined);
    if (named.length !== 1 || !named.every((v) => typeof v === 'string' && v !== '')) {
      throw badRequest('name exactly one of "subscriber" or "sub" (a non-empty string)');
    }
    if (retry !== undefined && !(Number.isSafeInteger(retry) && (retry as number) >= 0)) {
      throw badRequest('"retry" is a whole number of ms');
    }
    const disconnected = await fromControl(() =>
      operations.act({
        op: 'disconnect',
        ...(typeof subscriber === 'string' ? { subscriber } : { sub: sub as string }),
        ...(retry !== undefined ? { retry: retry as number } : {}),
      }),
    );
    return json({ disconnected });
  });

  app.post('/admin/revoke', async (c) => {
    await allow(c, 'revoke');
    const revocation = checkRevocation(await readJsonObject(c.req.raw));
    if (operations.denylist.size >= MAX_REVOCATIONS) {
      throw new HubError(
        'conflict',
        `the denylist holds ${MAX_REVOCATIONS} entries already: lift some first`,
      );
    }
    const disconnected = await fromControl(async () => {
      await operations.control.save(revocation);
      return operations.act({ op: 'revoke', revocation });
    });
    return json({ revoked: seconds(revocation), disconnected });
  });

  app.get('/admin/revocations', async (c) => {
    await allow(c, 'read');
    const all = await fromControl(() => operations.control.revocations());
    return json({ revocations: all.slice(0, MAX_REVOCATIONS).map(seconds) });
  });

  app.delete('/admin/revocations', async (c) => {
    await allow(c, 'revoke');
    const jti = c.req.query('jti');
    const sub = c.req.query('sub');
    if ((jti === undefined) === (sub === undefined) || jti === '' || sub === '') {
      throw badRequest('name exactly one of the "jti" or "sub" query parameters');
    }
    const entry = jti !== undefined ? { jti } : { sub: sub! };
    const lifted = await fromControl(async () => {
      const had = await operations.control.remove(entry);
      await operations.act({ op: 'lift', ...entry });
      return had;
    });
    return json({ lifted });
  });

  return app;
}

/** The active subscriptions: the registry's (every instance), else this instance's connections. */
async function active(ctx: AdminContext): Promise<ActiveSubscription[]> {
  if (!ctx.registry) return [...ctx.dispatcher.subscribers].flatMap((s) => subscriptionsOf(s, ctx.hubPath));
  return fromControl(() => ctx.registry!.list({}));
}

function page(c: Context): { limit: number; after: string | undefined } {
  const text = c.req.query('limit');
  const limit = text === undefined ? DEFAULT_PAGE : Number(text);
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_PAGE) {
    throw badRequest(`limit is a whole number from 1 to ${MAX_PAGE}`);
  }
  return { limit, after: c.req.query('after') || undefined };
}

/** A revocation as the API shows it: `until` in seconds since the epoch, like `exp`. */
const seconds = (r: { jti?: string; sub?: string; until: number }) => ({
  ...r,
  until: Math.floor(r.until / 1000),
});

/** A shared backend (Redis) that is away: a retryable 503. */
async function fromControl<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof HubError) throw error;
    console.error('ssehub: admin action failed', error);
    throw new HubError('unavailable', 'the shared backend is unavailable; retry later');
  }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

async function readJsonObject(request: Request): Promise<Record<string, unknown>> {
  const type = request.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new HubError('unsupported_media_type', 'send the body as Content-Type: application/json');
  }
  let value: unknown;
  try {
    value = JSON.parse(strictUtf8.decode(await readBody(request, MAX_BODY)));
  } catch (error) {
    if (error instanceof HubError) throw error;
    throw badRequest('the body is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw badRequest('the body must be a JSON object');
  }
  return value as Record<string, unknown>;
}

function json(body: unknown): Response {
  return new Response(JSON.stringify(body), {
    headers: {
      'content-type': 'application/json',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    },
  });
}
