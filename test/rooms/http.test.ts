/**
 * Rooms over HTTP, black-box against a Node hub with rooms open: the join answer and the peer token's
 * grants, validation (400/413/415), what a peer token may publish (403 outside its room or under
 * another peer's id), inbox privacy, presence, and the shared state endpoints.
 */
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE_ISSUER, FIXTURE_ORIGIN, FIXTURE_RESOURCE } from '../conformance/target.ts';
import { publishAll } from '../conformance/tokens.ts';
import {
  join,
  peerStreamUrl,
  postJson,
  publishWith,
  type RestartableHub,
  startRoomsHub,
} from '../helpers/rooms.ts';
import { openStream } from '../helpers/sse.ts';

const DETAIL = 'https://mercure.rocks/authorization-detail';
const PRESENCE = (room: string) =>
  `/.well-known/mercure/subscriptions/exact/%2Frooms%2F${room}%2Fpeers%2F:peer([A-Za-z0-9_-]+)/:subscriber\\?#`;
const unique = (prefix: string) => `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
/** A room message as the client sends it: an envelope naming its sender. */
const envelope = (from: string, text: string) =>
  JSON.stringify({ from, items: [{ type: 'message', data: text }] });

let hub: RestartableHub;
beforeAll(async () => {
  hub = await startRoomsHub();
});
afterAll(() => hub?.stop());

describe('joining', () => {
  it('answers with a peer token holding exactly the grants of that peer, the topics, the state and a cursor', async () => {
    const room = unique('join');
    const { status, answer, headers } = await join(hub.url, room, { name: '  Ada Lovelace ' });
    expect(status).toBe(200);
    expect(headers.get('cache-control')).toBe('no-store');
    expect(answer.room).toBe(room);
    expect(answer.peer).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(answer.resumed).toBe(false);
    expect(answer.hub).toBe(`${hub.url}/.well-known/mercure`);
    expect(answer.topics).toEqual({
      room: `/rooms/${room}`,
      inbox: `/rooms/${room}/peers/${answer.peer}`,
      state: `/rooms/${room}/state`,
      presence: PRESENCE(room),
    });
    expect(answer.peers).toEqual([]);
    expect(answer.state).toMatchObject({ version: 0, value: {}, refs: [] });
    expect(answer.limits).toEqual({ messageBytes: 65536, stateBytes: 262144, peers: 8 });
    expect(answer.expiresAt).toBeGreaterThan(Date.now() + 590_000);
    expect(answer.expiresAt).toBeLessThanOrEqual(Date.now() + 600_000);

    const claims = decodeJwt(answer.token);
    expect(claims).toMatchObject({ iss: FIXTURE_ISSUER, aud: FIXTURE_RESOURCE, sub: answer.topics.inbox });
    expect(claims.authorization_details).toEqual([
      {
        type: DETAIL,
        actions: ['publish'],
        topics: [
          { match: `/rooms/${room}` },
          { match: `/rooms/${room}/peers/:peer([A-Za-z0-9_-]+)\\?#`, match_type: 'urlpattern' },
        ],
      },
      {
        type: DETAIL,
        actions: ['subscribe'],
        topics: [
          { match: `/rooms/${room}` },
          { match: `/rooms/${room}/state` },
          { match: `/rooms/${room}/peers/${answer.peer}` },
          { match: PRESENCE(room), match_type: 'urlpattern' },
        ],
        payload: { room, peer: answer.peer, name: 'Ada Lovelace' },
      },
    ]);
  });

  it('refuses bad room names and bad bodies with a clear 4xx', async () => {
    for (const room of ['bad%20name', 'a.b', 'x'.repeat(65), 'caf%C3%A9', 'a%2Fb']) {
      const { status, text } = await join(hub.url, room);
      expect({ room, status }).toEqual({ room, status: 400 });
      expect(text).toMatch(/room names are 1 to 64 characters/);
    }
    const room = unique('body');
    expect((await join(hub.url, room, { name: 'x'.repeat(65) })).status).toBe(400);
    expect((await join(hub.url, room, { name: 'Eve\u202eevE' })).status).toBe(400);
    expect((await join(hub.url, room, { name: 42 })).status).toBe(400);
    expect((await join(hub.url, room, '{"name":')).status).toBe(400);
    expect((await join(hub.url, room, '[1]')).status).toBe(400);
    expect((await join(hub.url, room, '{}', { 'content-type': 'text/plain' })).status).toBe(415);
    expect((await join(hub.url, room, { name: 'a', pad: 'x'.repeat(70_000) })).status).toBe(413);
    // An empty body is fine: no name.
    const empty = await fetch(`${hub.url}/rooms/${room}/join`, { method: 'POST' });
    expect(empty.status).toBe(200);
  });

  it('keeps the peer id when resuming with a valid token of the same room, and only then', async () => {
    const room = unique('resume');
    const first = (await join(hub.url, room, { name: 'Ada' })).answer;
    const again = (await join(hub.url, room, { name: 'Ada', resume: first.token })).answer;
    expect(again).toMatchObject({ peer: first.peer, resumed: true });
    const elsewhere = (await join(hub.url, unique('other'), { resume: first.token })).answer;
    expect(elsewhere.resumed).toBe(false);
    expect(elsewhere.peer).not.toBe(first.peer);
    const forged = (await join(hub.url, room, { resume: `${first.token.slice(0, -4)}AAAA` })).answer;
    expect(forged.resumed).toBe(false);
  });
});

describe('what a peer token may publish', () => {
  it('publishes privately in its room and to its peers, nowhere else (403), never public or "state" (400), never too large (413)', async () => {
    const room = unique('pub');
    const a = (await join(hub.url, room)).answer;
    const b = (await join(hub.url, room)).answer;
    const send = (topic: string, extra: Array<[string, string]> = [['private', 'on']], data = '{}') =>
      publishWith(hub.url, a.token, [['topic', topic], ['data', data], ...extra]);
    expect(
      (
        await send(
          `/rooms/${room}`,
          [
            ['private', 'on'],
            ['type', 'broadcast'],
          ],
          envelope(a.peer, 'hello'),
        )
      ).status,
    ).toBe(200);
    expect((await send(`/rooms/${room}/peers/${b.peer}`)).status).toBe(200);
    // Absolute on the configured hub origin (the fixture's resource identifier's), not the request's.
    expect((await send(`${FIXTURE_ISSUER}/rooms/${room}/peers/${b.peer}`)).status).toBe(200);
    for (const topic of [
      `${hub.url}/rooms/${room}/peers/${b.peer}`,
      `/rooms/${room}/state`,
      `/rooms/${unique('elsewhere')}`,
      `/rooms/${unique('elsewhere')}/peers/${b.peer}`,
      `/rooms/${room}/peers/${b.peer}/more`,
      `/rooms/${room}/peers/${b.peer}?x=1`,
      '/chat',
    ]) {
      const { status } = await send(topic);
      expect({ topic, status }).toEqual({ topic, status: 403 });
    }
    // Alternates need the grant too: one topic outside the room refuses the whole update.
    expect(
      (
        await send(`/rooms/${room}`, [
          ['private', 'on'],
          ['topic', '/elsewhere'],
        ])
      ).status,
    ).toBe(403);
    const publicly = await send(`/rooms/${room}`, []);
    expect(publicly).toEqual({ status: 400, text: 'updates to room topics must be private\n' });
    expect(
      (
        await send(`/rooms/${room}`, [
          ['private', 'on'],
          ['type', 'state'],
        ])
      ).status,
    ).toBe(400);
    const large = await send(`/rooms/${room}`, [['private', 'on']], 'x'.repeat(65_537));
    expect(large.status).toBe(413);
    expect(large.text).toMatch(/limited to 65536 bytes/);
  });

  it('lets a peer send messages and signals only under its own id (403), as readable envelopes (400)', async () => {
    const room = unique('sender');
    const a = (await join(hub.url, room)).answer;
    const b = (await join(hub.url, room)).answer;
    const bStream = await openStream(peerStreamUrl(hub.url, b), { authorization: `Bearer ${b.token}` });
    const send = (topic: string, type: string, data: string) =>
      publishWith(hub.url, a.token, [
        ['topic', topic],
        ['data', data],
        ['private', 'on'],
        ['type', type],
      ]);
    const forged = envelope(b.peer, 'I am b');
    for (const [topic, type] of [
      [a.topics.room, 'broadcast'],
      [b.topics.inbox, 'direct'],
    ] as const) {
      expect(await send(topic, type, forged)).toEqual({
        status: 403,
        text: `a peer sends under its own id: "from" must be ${JSON.stringify(a.peer)}\n`,
      });
      expect((await send(topic, type, JSON.stringify({ items: [] }))).status).toBe(403);
      expect((await send(topic, type, 'not json')).status).toBe(400);
    }
    // The application's own publisher (the hub key, not a peer token) may speak for anyone.
    const app = await publishWith(hub.url, await publishAll(), [
      ['topic', b.topics.inbox],
      ['data', envelope('server', 'from the app')],
      ['private', 'on'],
      ['type', 'direct'],
    ]);
    expect(app.status).toBe(200);
    const own = envelope(a.peer, 'I am a');
    expect((await send(b.topics.inbox, 'direct', own)).status).toBe(200);
    await bStream.waitFor(() => bStream.events.some((e) => e.data === own), 'the genuine message');
    expect(bStream.events.map((e) => e.data)).not.toContain(forged);
    bStream.close();
  });

  it('never delivers private messages of another inbox, live or replayed, whatever the subscriber asks for', async () => {
    const room = unique('privacy');
    const [alice, eve, carol] = [
      (await join(hub.url, room)).answer,
      (await join(hub.url, room)).answer,
      (await join(hub.url, room)).answer,
    ];
    const auth = (t: string) => ({ authorization: `Bearer ${t}` });
    const aliceStream = await openStream(peerStreamUrl(hub.url, alice), auth(alice.token));
    // Eve asks for Alice's inbox by name, by pattern and with `*`, besides her own topics.
    const eveUrl = peerStreamUrl(hub.url, eve, {
      match: alice.topics.inbox,
      match_urlpattern: `/rooms/${room}/peers/:p`,
    });
    const eveStream = await openStream(`${eveUrl}&match=*`, auth(eve.token));
    expect(eveStream.status).toBe(200);
    const forAlice = envelope(carol.peer, 'for alice only');
    const marker = envelope(carol.peer, 'marker');
    const secret = await publishWith(hub.url, carol.token, [
      ['topic', alice.topics.inbox],
      ['data', forAlice],
      ['private', 'on'],
      ['type', 'direct'],
    ]);
    expect(secret.status).toBe(200);
    await publishWith(hub.url, carol.token, [
      ['topic', carol.topics.room],
      ['data', marker],
      ['private', 'on'],
      ['type', 'broadcast'],
    ]);
    await aliceStream.waitFor(
      () => aliceStream.events.some((e) => e.data === forAlice),
      'the secret at alice',
    );
    await eveStream.waitFor(() => eveStream.events.some((e) => e.data === marker), 'the marker at eve');
    expect(eveStream.events.map((e) => e.data)).not.toContain(forAlice);
    const replay = await openStream(`${eveUrl}&match=*`, { ...auth(eve.token), 'last-event-id': 'earliest' });
    await replay.waitFor(() => replay.events.some((e) => e.data === marker), 'the marker on replay');
    expect(replay.events.map((e) => e.data)).not.toContain(forAlice);
    for (const s of [aliceStream, eveStream, replay]) s.close();
  });
});

describe('presence', () => {
  it('shows the room a peer coming and going, with its name, and nothing to other rooms', async () => {
    const room = unique('presence');
    const alice = (await join(hub.url, room, { name: 'Alice' })).answer;
    const watching = await openStream(peerStreamUrl(hub.url, alice), {
      authorization: `Bearer ${alice.token}`,
    });
    const outsider = (await join(hub.url, unique('outside'))).answer;
    // The outsider asks for this room's presence too: its token does not cover it.
    const outsiderUrl = peerStreamUrl(hub.url, outsider, { match_urlpattern: alice.topics.presence });
    const outside = await openStream(outsiderUrl, { authorization: `Bearer ${outsider.token}` });

    const bob = (await join(hub.url, room, { name: 'Bob' })).answer;
    const bobStream = await openStream(peerStreamUrl(hub.url, bob), { authorization: `Bearer ${bob.token}` });
    const aboutBob = () =>
      watching.events
        .filter((e) => e.event === 'mercure')
        .map((e) => JSON.parse(e.data))
        .filter((s) => s.match === bob.topics.inbox);
    await watching.waitFor(() => aboutBob().length === 1, "Bob's arrival");
    expect(aboutBob()[0]).toMatchObject({
      active: true,
      match_type: 'exact',
      payload: { room, peer: bob.peer, name: 'Bob' },
    });
    // Only the inbox subscription is presence: the room, state and pattern ones stay out of sight.
    expect(watching.events.filter((e) => e.event === 'mercure' && !e.data.includes(`%2Fpeers%2F`))).toEqual(
      [],
    );
    bobStream.close();
    await watching.waitFor(() => aboutBob().length === 2, "Bob's departure");
    expect(aboutBob()[1]).toMatchObject({ active: false, payload: { peer: bob.peer } });

    await publishWith(hub.url, outsider.token, [
      ['topic', outsider.topics.room],
      ['data', 'marker'],
      ['private', 'on'],
    ]);
    await outside.waitFor(() => outside.events.some((e) => e.data === 'marker'), 'the marker');
    expect(outside.events.filter((e) => e.event === 'mercure' && e.data.includes(room))).toEqual([]);

    // A late joiner gets the peers present in its join answer.
    const carol = (await join(hub.url, room)).answer;
    expect(carol.peers).toEqual([
      { id: alice.peer, name: 'Alice', subscribers: [expect.stringMatching(/^urn:uuid:/)] },
    ]);
    watching.close();
    outside.close();
  });
});

describe('shared state', () => {
  it('orders patches, serves the state, and gives a late joiner the state plus a cursor to follow from', async () => {
    const room = unique('state');
    const alice = (await join(hub.url, room)).answer;
    const bob = (await join(hub.url, room)).answer;
    const patch = (token: string, ref: string, p: unknown) =>
      postJson(`${hub.url}/rooms/${room}/state`, token, { ref, patch: p });
    const [one, two] = await Promise.all([
      patch(alice.token, 'a1', { items: { x: { text: 'milk', done: false } } }),
      patch(bob.token, 'b1', { items: { y: { text: 'eggs', done: false } } }),
    ]);
    expect([one.status, two.status]).toEqual([200, 200]);
    expect(new Set([one.json().version, two.json().version])).toEqual(new Set([1, 2]));
    expect((await patch(alice.token, 'a2', { items: { x: { done: true } } })).json()).toMatchObject({
      version: 3,
      duplicate: false,
    });
    expect((await patch(alice.token, 'a2', { items: { x: { done: false } } })).json()).toMatchObject({
      duplicate: true,
    });

    const read = await fetch(`${hub.url}/rooms/${room}/state`, {
      headers: { authorization: `Bearer ${bob.token}` },
    });
    const expected = { items: { x: { text: 'milk', done: true }, y: { text: 'eggs', done: false } } };
    expect((await read.json()).state).toMatchObject({ version: 3, value: expected });

    const carol = (await join(hub.url, room)).answer;
    expect(carol.state).toMatchObject({ version: 3, value: expected });
    await patch(bob.token, 'b2', { items: { z: { text: 'bread' } } });
    const stream = await openStream(peerStreamUrl(hub.url, carol), {
      authorization: `Bearer ${carol.token}`,
      'last-event-id': carol.cursor,
    });
    await stream.waitFor(() => stream.events.some((e) => e.event === 'state'), 'a state event');
    const states = stream.events.filter((e) => e.event === 'state').map((e) => JSON.parse(e.data));
    // Exactly what came after the join: the later patch, not the earlier ones.
    expect(states).toEqual([
      { kind: 'patch', ref: 'b2', from: bob.peer, patch: { items: { z: { text: 'bread' } } } },
    ]);
    stream.close();
  });

  it('takes cookie-authenticated state changes only from an allowed origin (CSRF)', async () => {
    const room = unique('csrf');
    const peer = (await join(hub.url, room)).answer;
    const change = async (path: string, body: unknown, headers: Record<string, string>) => {
      const res = await fetch(`${hub.url}/rooms/${room}/state${path}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          cookie: `__Secure-mercure_access_token=${peer.token}`,
          ...headers,
        },
        body: JSON.stringify(body),
      });
      return { status: res.status, text: await res.text() };
    };
    const patch = { ref: 'evil', patch: { owned: true } };
    for (const headers of [{ origin: 'https://evil.example' }, {}] as Record<string, string>[]) {
      const refused = await change('', patch, headers);
      expect(refused.status).toBe(403);
      expect(refused.text).toMatch(/authenticated by a cookie/);
      const restore = await change('/restore', { ref: 'r', epoch: 'e', state: { owned: true } }, headers);
      expect(restore.status).toBe(403);
    }
    const state = await fetch(`${hub.url}/rooms/${room}/state`, {
      headers: { authorization: `Bearer ${peer.token}` },
    });
    expect((await state.json()).state.value).toEqual({});
    const allowed = await change('', { ref: 'ok', patch: { fine: true } }, { origin: FIXTURE_ORIGIN });
    expect(allowed.status).toBe(200);
  });

  it('applies a batch of patches in order, each once, all checked first, stopping at the first refused', async () => {
    const room = unique('batch');
    const peer = (await join(hub.url, room)).answer;
    const url = `${hub.url}/rooms/${room}/state`;
    const batch = (patches: unknown) => postJson(url, peer.token, { patches });
    const state = async () =>
      (await (await fetch(url, { headers: { authorization: `Bearer ${peer.token}` } })).json()).state;

    const first = await batch([
      { ref: 'b1', patch: { a: 1 } },
      { ref: 'b2', patch: { a: 2, b: 1 } },
      { ref: 'b3', patch: { b: null } },
    ]);
    expect(first.status).toBe(200);
    expect(first.json()).toMatchObject({ version: 3, duplicate: false });
    expect(await state()).toMatchObject({ version: 3, value: { a: 2 } });
    // Sent again with one more (a leaving peer that never saw its answer): only the new one applies.
    const again = await batch([
      { ref: 'b2', patch: { a: 2, b: 1 } },
      { ref: 'b3', patch: { b: null } },
      { ref: 'b4', patch: { c: 1 } },
    ]);
    expect(again.json()).toMatchObject({ version: 4 });
    expect(await state()).toMatchObject({ version: 4, value: { a: 2, c: 1 } });

    // Malformed anywhere: nothing of it is applied.
    for (const patches of [
      [
        { ref: 'x1', patch: { x: 1 } },
        { ref: '', patch: {} },
      ],
      [
        { ref: 'x1', patch: { x: 1 } },
        { ref: 'x2', patch: [1] },
      ],
      [{ ref: 'x1', patch: { x: 1 } }, 'x2'],
      Array.from({ length: 33 }, (_, i) => ({ ref: `x${i}`, patch: { x: i } })),
      [],
      { ref: 'x1', patch: { x: 1 } },
    ]) {
      const refused = await batch(patches);
      expect(refused.status, JSON.stringify(patches).slice(0, 80)).toBe(400);
    }
    expect(await state()).toMatchObject({ version: 4, value: { a: 2, c: 1 } });

    // The state near its limit: the patch that would pass it is refused (413), and what follows it too.
    for (let i = 0; i < 4; i++) {
      const fill = { ref: `fill-${i}`, patch: { [`k${i}`]: 'x'.repeat(60_000) } };
      expect((await postJson(url, peer.token, fill)).status).toBe(200);
    }
    const over = await batch([
      { ref: 'small', patch: { small: 1 } },
      { ref: 'big', patch: { k9: 'x'.repeat(60_000) } },
      { ref: 'after', patch: { after: 1 } },
    ]);
    expect(over.status).toBe(413);
    const value = (await state()).value;
    expect([value.small, value.k9, value.after]).toEqual([1, undefined, undefined]);
  });

  it('refuses state changes that are malformed (400), from elsewhere (401/403) or too large (413)', async () => {
    const room = unique('limits');
    const peer = (await join(hub.url, room)).answer;
    const outsider = (await join(hub.url, unique('outside'))).answer;
    const url = `${hub.url}/rooms/${room}/state`;
    expect((await postJson(url, undefined, { ref: 'r', patch: {} })).status).toBe(401);
    expect((await postJson(url, outsider.token, { ref: 'r', patch: {} })).status).toBe(403);
    expect((await fetch(url, { headers: { authorization: `Bearer ${outsider.token}` } })).status).toBe(403);
    expect((await postJson(url, peer.token, { ref: 'r', patch: [1] })).status).toBe(400);
    expect((await postJson(url, peer.token, { patch: {} })).status).toBe(400);
    let deep: unknown = {};
    for (let i = 0; i < 40; i++) deep = { d: deep };
    expect((await postJson(url, peer.token, { ref: 'deep', patch: deep })).status).toBe(400);
    expect((await postJson(url, peer.token, { ref: 'big', patch: { a: 'x'.repeat(70_000) } })).status).toBe(
      413,
    );
    for (let i = 0; i < 4; i++) {
      expect(
        (await postJson(url, peer.token, { ref: `fill-${i}`, patch: { [`k${i}`]: 'x'.repeat(60_000) } }))
          .status,
      ).toBe(200);
    }
    const over = await postJson(url, peer.token, { ref: 'over', patch: { k9: 'x'.repeat(60_000) } });
    expect(over.status).toBe(413);
    expect(over.text).toMatch(/more than the 262144 allowed/);
    const restore = await postJson(`${url}/restore`, peer.token, { ref: 'rs', epoch: 'whatever', state: {} });
    expect(restore.status).toBe(409);
  });
});
