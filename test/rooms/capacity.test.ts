/**
 * Room capacity holds whatever the order of joins and connections: a peer counts from its join, not
 * only once its stream is live, and a stream that would overfill the room is refused (409) even with
 * a valid peer token minted elsewhere.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JoinResponse } from '../../src/room-protocol/index.ts';
import { mintPeerToken, newPeerId } from '../../src/signaling/index.ts';
import { FIXTURE_ISSUER, FIXTURE_KEY, FIXTURE_RESOURCE } from '../conformance/target.ts';
import { type HubInstance, startHubs } from '../helpers/cluster.ts';
import { type RedisServer, skipRedis, startRedis } from '../helpers/redis.ts';
import { join, peerStreamUrl, type RestartableHub, startRoomsHub } from '../helpers/rooms.ts';
import { eventually, openStream, type SseStream } from '../helpers/sse.ts';

const HUB = '/.well-known/mercure';
const MAX = 8;

let hub: RestartableHub;
beforeAll(async () => {
  hub = await startRoomsHub({ SSEHUB_ROOMS_MAX_PEERS: String(MAX) });
});
afterAll(() => hub?.stop());

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const connect = (answer: Pick<JoinResponse, 'token' | 'topics'>, base = hub.url) =>
  openStream(peerStreamUrl(base, answer as JoinResponse), bearer(answer.token));

/**
 * A peer token for a peer that never joined on this hub, signed with the hub's own key and code: what
 * another instance sharing the key would hand out, or a seat that lapsed.
 */
async function mintedElsewhere(room: string) {
  const peer = newPeerId();
  const { token } = await mintPeerToken({
    key: FIXTURE_KEY,
    issuer: FIXTURE_ISSUER,
    audience: FIXTURE_RESOURCE,
    hubPath: HUB,
    ttl: 600,
    payload: { room, peer },
  });
  const topics = {
    room: `/rooms/${room}`,
    inbox: `/rooms/${room}/peers/${peer}`,
    state: `/rooms/${room}/state`,
    presence: `${HUB}/subscriptions/exact/%2Frooms%2F${room}%2Fpeers%2F:peer([A-Za-z0-9_-]+)/:subscriber\\?#`,
  };
  return { token, topics };
}

/** The peers a present peer sees in the room, through its own renewal (a resume join). */
async function othersSeenBy(room: string, answer: JoinResponse, base = hub.url): Promise<number> {
  const renewed = await join(base, room, { resume: answer.token });
  expect(renewed.status).toBe(200);
  return renewed.answer.peers.length;
}

it('admits at most the limit when every join comes before any connection, in any order of connections', async () => {
  const room = `crowd-${crypto.randomUUID().slice(0, 8)}`;
  const joins = await Promise.all(Array.from({ length: 12 }, () => join(hub.url, room, {})));
  const statuses = joins.map((j) => j.status).sort();
  expect(statuses).toEqual([...Array(MAX).fill(200), ...Array(12 - MAX).fill(409)]);
  for (const refused of joins.filter((j) => j.status === 409)) {
    expect(refused.text).toBe(`the room is full (${MAX} peers)\n`);
  }
  const seated = joins.filter((j) => j.status === 200).map((j) => j.answer);
  // Four more valid peer tokens, connecting first and interleaved with the seated peers.
  const strays = await Promise.all(Array.from({ length: 12 - MAX }, () => mintedElsewhere(room)));
  const order = [...strays.slice(0, 2), ...seated.slice(0, 4), ...strays.slice(2), ...seated.slice(4)];
  const streams = await Promise.all(order.map((answer) => connect(answer)));
  const byStatus = (status: number) => streams.filter((s) => s.status === status);
  expect(byStatus(200)).toHaveLength(MAX);
  expect(byStatus(409)).toHaveLength(12 - MAX);
  for (const refused of byStatus(409)) {
    // The body arrives after the status: read it once the response has ended.
    await refused.ended;
    expect(refused.text()).toBe(`the room is full (${MAX} peers)\n`);
  }
  for (const [i, stream] of streams.entries()) {
    expect({ i, status: stream.status }).toEqual({ i, status: strays.includes(order[i]!) ? 409 : 200 });
  }
  const [first, second] = seated as [JoinResponse, JoinResponse];
  await eventually(async () => (await othersSeenBy(room, first)) === MAX - 1, 'all seated peers present');
  expect((await join(hub.url, room, {})).status).toBe(409);

  // One leaves: its seat is free once its departure is recorded, and a ninth peer gets in.
  const open = streams.filter((s) => s.status === 200);
  streams[order.indexOf(first)]!.close();
  await eventually(async () => (await othersSeenBy(room, second)) === MAX - 2, 'the departure');
  const ninth = await join(hub.url, room, {});
  expect(ninth.status).toBe(200);
  const ninthStream = await connect(ninth.answer);
  expect(ninthStream.status).toBe(200);
  expect((await join(hub.url, room, {})).status).toBe(409);
  const late = await connect(await mintedElsewhere(room));
  expect(late.status).toBe(409);
  for (const s of [...open, ninthStream] as SseStream[]) s.close();
});

describe.skipIf(skipRedis)('across two instances sharing Redis', () => {
  let redis: RedisServer;
  let a: HubInstance;
  let b: HubInstance;
  beforeAll(async () => {
    redis = await startRedis();
    [a, b] = (await startHubs(2, redis.url, { SSEHUB_ROOMS: 'open', SSEHUB_ROOMS_MAX_PEERS: '2' })) as [
      HubInstance,
      HubInstance,
    ];
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await redis?.dispose();
  });

  it('counts peers joined on one instance and connected on the other, and frees a seat on either', async () => {
    const room = `pair-${crypto.randomUUID().slice(0, 8)}`;
    const ada = (await join(a.url, room, {})).answer;
    const adaStream = await connect(ada, b.url);
    expect(adaStream.status).toBe(200);
    const bob = (await join(b.url, room, {})).answer;
    const bobStream = await connect(bob, a.url);
    expect(bobStream.status).toBe(200);
    await eventually(async () => (await othersSeenBy(room, ada, a.url)) === 1, 'both present');
    for (const base of [a.url, b.url]) {
      expect((await join(base, room, {})).status).toBe(409);
      const stray = await connect(await mintedElsewhere(room), base);
      expect(stray.status).toBe(409);
    }
    adaStream.close();
    await eventually(async () => (await othersSeenBy(room, bob, b.url)) === 0, "ada's departure");
    const cy = await join(a.url, room, {});
    expect(cy.status).toBe(200);
    const cyStream = await connect(cy.answer, b.url);
    expect(cyStream.status).toBe(200);
    cyStream.close();
    bobStream.close();
  });
});
