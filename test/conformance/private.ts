/** MERCURE.md — private updates never leak: live, replay, alternate topics, URL patterns, query matchers. */
import { expect, it } from 'vitest';
import { openStreamAs, type SseStream } from '../helpers/sse.ts';
import { HUB, publishOk, q, subscribe, uniqueTopic } from './client.ts';
import { FIXTURE_ISSUER, type Start, type Target } from './target.ts';
import { bearer, detail, draft } from './tokens.ts';

const subscribeGrant = (topics: Array<{ match: string; match_type?: string }>, extra = {}) =>
  draft([detail(['subscribe'], topics, extra)]);

export function privateTests(target: () => Target, start: Start) {
  const url = () => target().url;

  it('delivers a private update only to tokens granted one of its topics, live and on replay', async () => {
    const [topic, alternate, unrelated] = [uniqueTopic('p'), uniqueTopic('alt'), uniqueTopic('u')];
    const start = await publishOk(url(), { topic, data: 'start' });
    const viaCanonical = await subscribeGrant([{ match: topic }]);
    const viaAlternate = await subscribeGrant([{ match: alternate }]);
    const viaUnrelated = await subscribeGrant([{ match: unrelated }]);
    const secret = await publishOk(url(), [
      ['topic', topic],
      ['topic', alternate],
      ['data', 'secret'],
      ['private', ''],
    ]);
    const open = await publishOk(url(), { topic, data: 'open' });
    const streams: SseStream[] = [];
    for (const token of [viaCanonical, viaAlternate, viaUnrelated, undefined]) {
      const headers = token ? bearer(token) : {};
      // `match=*` asks for everything: the query never widens what the token allows.
      streams.push(await subscribe(url(), `match=*&last_event_id=${q(start)}`, headers));
    }
    const [canonical, alt, other, anonymous] = streams;
    const live = await publishOk(url(), { topic, data: 'secret live', private: 'on' });
    const liveAlt = await publishOk(url(), [
      ['topic', `${unrelated}/x`],
      ['topic', alternate],
      ['data', 'secret alt'],
      ['private', 'on'],
    ]);
    const marker = await publishOk(url(), { topic, data: 'marker' });
    const ids = async (s: SseStream | undefined) => {
      await s!.waitFor(() => s!.events.some((e) => e.id === marker), 'the marker');
      return s!.events.map((e) => e.id).filter((id) => [secret, open, live, liveAlt, marker].includes(id!));
    };
    expect(await ids(canonical)).toEqual([secret, open, live, marker]);
    expect(await ids(alt)).toEqual([secret, open, liveAlt, marker]);
    expect(await ids(other)).toEqual([open, marker]);
    expect(await ids(anonymous)).toEqual([open, marker]);
    for (const s of [other, anonymous]) expect(s!.text()).not.toContain('secret');
    for (const s of streams) s!.close();
  });

  it('grants private updates through URL patterns, and only the topics they match', async () => {
    const room = crypto.randomUUID();
    const token = await subscribeGrant([{ match: `/books-${room}/:id`, match_type: 'urlpattern' }]);
    const sub = await subscribe(url(), `match_urlpattern=${q(`/books-${room}/*`)}`, bearer(token));
    await publishOk(url(), { topic: `/books-${room}/1/reviews`, data: 'deeper secret', private: 'on' });
    await publishOk(url(), { topic: `/BOOKS-${room}/1`, data: 'case secret', private: 'on' });
    const granted = await publishOk(url(), { topic: `/books-${room}/1`, data: 'granted', private: 'on' });
    const open = await publishOk(url(), { topic: `/books-${room}/1/reviews`, data: 'open' });
    expect((await sub.waitForEvents(2)).map((e) => e.id)).toEqual([granted, open]);
    expect(sub.text()).not.toContain('secret');
    sub.close();
  });

  it('resolves relative grants and patterns against the configured hub origin, whatever Host the request names', async () => {
    // The fixture names the hub by its resource identifier (https://localhost/…) and sets no public
    // URL: a subscriber that claims another Host must not stretch "/books/:id" over that host's topics.
    const family = `/books-${crypto.randomUUID()}`;
    const token = await subscribeGrant([{ match: `${family}/:id`, match_type: 'urlpattern' }]);
    const query = `match_urlpattern=${q(`${family}/:id`)}&match=${q(`https://other.example${family}/1`)}`;
    const sub = await openStreamAs(`${url()}${HUB}?${query}`, 'other.example', bearer(token));
    expect(sub.status).toBe(200);
    await publishOk(url(), {
      topic: `https://other.example${family}/1`,
      data: 'other origin',
      private: 'on',
    });
    const relative = await publishOk(url(), { topic: `${family}/2`, data: 'relative', private: 'on' });
    const absolute = await publishOk(url(), {
      topic: `${FIXTURE_ISSUER}${family}/3`,
      data: 'configured origin',
      private: 'on',
    });
    const marker = await publishOk(url(), { topic: `${family}/marker`, data: 'marker' });
    await sub.waitFor(() => sub.events.some((e) => e.id === marker), 'the marker');
    expect(sub.events.map((e) => e.id)).toEqual([relative, absolute, marker]);
    expect(sub.text()).not.toContain('other origin');
    sub.close();
  });

  it('re-checks replayed private updates against the token presented now', async () => {
    const topic = uniqueTopic();
    const before = await publishOk(url(), { topic, data: 'before' });
    const secret = await publishOk(url(), { topic, data: 'secret', private: 'on' });
    const marker = await publishOk(url(), { topic, data: 'marker' });
    // The same client reconnecting with a narrower token gets no more than that token allows.
    const narrower = await subscribeGrant([{ match: `${topic}/other` }]);
    const sub = await subscribe(url(), `match=${q(topic)}`, { 'last-event-id': before, ...bearer(narrower) });
    expect((await sub.waitForEvents(1)).map((e) => e.id)).toEqual([marker]);
    expect(sub.text()).not.toContain(secret);
    sub.close();
  });

  it('refuses anonymous subscribers when configured to (401), and still serves tokens', async () => {
    const hub = await start({ SSEHUB_ALLOW_ANONYMOUS_SUBSCRIBE: 'false' });
    try {
      const refused = await fetch(`${hub.url}/.well-known/mercure?match=%2Fa`);
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toMatch(/^Bearer .*resource_metadata=/);
      expect(refused.headers.get('www-authenticate')).not.toContain('error=');
      await refused.text();
      const token = await subscribeGrant([{ match: '/a' }]);
      const sub = await subscribe(hub.url, 'match=%2Fa', bearer(token));
      expect(sub.status).toBe(200);
      sub.close();
    } finally {
      await hub.stop();
    }
  });

  it('closes the stream when the token expires, even a cookie token', async () => {
    const token = await draft([detail(['subscribe'], [{ match: '*' }])], { exp: 2 });
    const sub = await subscribe(url(), `match=${q(uniqueTopic())}`, {
      cookie: `__Secure-mercure_access_token=${token}`,
    });
    expect(sub.status).toBe(200);
    await sub.ended;
    expect(sub.endedCleanly).toBe(true);
  });
}
