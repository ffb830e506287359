/**
 * The Subscription API: `GET {hub}/subscriptions`, `{hub}/subscriptions/{match_type}/{match}` and
 * `{hub}/subscriptions/{match_type}/{match}/{subscriber}`, as JSON. Each request is authorized like a
 * subscription to its own (relative) topic, and carries `Link: <hub>; rel="mercure"; last-event-id=…`:
 * a client lists, then subscribes to the subscription events from that cursor, and misses nothing.
 */
import type { Broker, SubscriptionFilter, SubscriptionRegistry } from '../brokers/index.ts';
import { type Authorizer, insufficientScope, unauthorized } from './auth.ts';
import { HubError } from './errors.ts';
import { toHeaderValue } from './header-values.ts';
import { encodeSegment } from './subscriptions.ts';

export interface SubscriptionApiContext {
  broker: Broker;
  registry: SubscriptionRegistry;
  authorizer: Authorizer;
}

const notFound = () => new HubError('not_found', 'no such subscription');

const utf8 = new TextEncoder();

/** Quotes a `Link` parameter value (RFC 9110 quoted-string). */
const quoted = (value: string) => `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`;

/** Answers one Subscription API request. */
export async function subscriptionApi(
  ctx: SubscriptionApiContext,
  request: Request,
  hubUrl: URL,
): Promise<Response> {
  const base = `${hubUrl.pathname}/subscriptions`;
  const path = new URL(request.url).pathname;
  const rest = path.slice(base.length);
  const segments = rest === '' ? [] : rest.slice(1).split('/');
  if (segments.length === 1 || segments.length > 3 || segments.includes('')) throw notFound();
  let decoded: string[];
  try {
    decoded = segments.map((s) => decodeURIComponent(s));
  } catch {
    throw notFound();
  }
  // The topic in its canonical encoding, whatever escapes the client chose.
  const topic = [base, ...decoded.map(encodeSegment)].join('/');
  const principal = await ctx.authorizer.subscriber(request, hubUrl);
  if (!principal) throw unauthorized(hubUrl);
  if (!principal.canSubscribe([topic])) {
    throw insufficientScope(hubUrl, 'the token does not grant subscribe on this subscription topic');
  }

  const [matchType, match, subscriber] = decoded;
  const filter: SubscriptionFilter = { match_type: matchType, match, subscriber };
  // Cursor first, list second: every change the cursor covers is already in the list (see the registry).
  let lastEventId: string;
  let subscriptions: Awaited<ReturnType<SubscriptionRegistry['list']>>;
  try {
    lastEventId = await ctx.broker.lastEventId();
    subscriptions = await ctx.registry.list(filter);
  } catch (error) {
    // A shared broker or registry (Redis) that is away: a retryable 503, like a publish.
    console.error('ssehub: subscription list failed', error);
    throw new HubError('unavailable', 'the subscription registry is unavailable; retry later');
  }
  const headers = {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    link: `<${hubUrl.href}>; rel="mercure"; last-event-id=${quoted(toHeaderValue(lastEventId))}`,
  };
  // The body as bytes, not a string: Node's HTTP server writes the header block in the encoding of a
  // string body, UTF-8, which would encode the cursor's bytes in the Link header a second time.
  if (subscriber !== undefined) {
    const [one] = subscriptions;
    if (!one) throw notFound();
    return new Response(utf8.encode(JSON.stringify(one)), { headers });
  }
  const body = { id: topic, type: 'subscriptions', last_event_id: lastEventId, subscriptions };
  return new Response(utf8.encode(JSON.stringify(body)), { headers });
}
