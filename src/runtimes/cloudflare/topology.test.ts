import { describe, expect, it } from 'vitest';
import { defaults } from '../../config/index.ts';
import { composeCursor, MAX_VECTOR_CHARS, parseCursor, updateIdOf } from './cursor.ts';
import { eventsObject, jumpHash, objectOf, pinOf, routeKey, type Topology, topologyOf } from './topology.ts';

const topology = (overrides: Partial<typeof defaults> = {}): Topology =>
  topologyOf({ ...defaults, shards: 4, rooms: 'open', ...overrides });

describe('topic routing', () => {
  it('routes a topic by its path, whatever origin or form it is written in', () => {
    const t = topology();
    expect(routeKey('/a/b?x=1#f')).toBe('/a/b?x=1');
    expect(routeKey('https://any.example/a/b')).toBe('/a/b');
    expect(routeKey('/a/./c/../b')).toBe('/a/b');
    for (const topic of ['/books/1', 'urn:isbn:1', 'plain words']) {
      expect(objectOf(t, topic)).toBe(objectOf(t, topic));
    }
    expect(objectOf(t, 'https://hub.example/books/1')).toBe(objectOf(t, '/books/1'));
  });

  it('spreads topics over every shard, and moves few when a shard is added', () => {
    const topics = Array.from({ length: 4000 }, (_, i) => `/t/${i}`);
    const counts = new Map<string, number>();
    for (const topic of topics)
      counts.set(objectOf(topology(), topic), (counts.get(objectOf(topology(), topic)) ?? 0) + 1);
    expect([...counts.keys()].sort()).toEqual(['hub', 'shard:1', 'shard:2', 'shard:3']);
    for (const n of counts.values()) expect(n).toBeGreaterThan(800);
    const moved = topics.filter(
      (topic) => objectOf(topology(), topic) !== objectOf(topology({ shards: 5 }), topic),
    );
    // About a fifth move, all of them to the new shard.
    expect(moved.length).toBeGreaterThan(600);
    expect(moved.length).toBeLessThan(1000);
    for (const topic of moved) expect(objectOf(topology({ shards: 5 }), topic)).toBe('shard:4');
    expect(jumpHash(12345, 1)).toBe(0);
  });

  it('pins topics with rules, first rule first; rooms get objects of their own when sharded', () => {
    const t = topology({ shardRules: ['/orders/*=2', '/orders/vip=3', '/stats=1'] });
    expect(objectOf(t, '/orders/7')).toBe('shard:2');
    expect(objectOf(t, '/orders/vip')).toBe('shard:2');
    expect(objectOf(t, '/stats')).toBe('shard:1');
    expect(objectOf(t, '/rooms/design/peers/p1')).toBe('room:design');
    expect(objectOf(t, '/rooms/design')).toBe('room:design');
    expect(objectOf(topology({ rooms: 'off' }), '/rooms/design')).not.toMatch(/^room:/);
    expect(objectOf(topologyOf({ ...defaults, rooms: 'open' }), '/rooms/design')).toBe('hub');
  });

  it('refuses rules it cannot honour, naming the setting', () => {
    expect(() => topology({ shardRules: ['/a/*=4'] })).toThrow(/SSEHUB_SHARD_RULES.*shard 4/);
    expect(() => topology({ shardRules: ['/a*b=1'] })).toThrow(/may only end/);
    expect(() => topology({ shardRules: ['a=1'] })).toThrow(/PATTERN=SHARD/);
    expect(() => topology({ shardRules: ['/.well-known/mercure/x*=1'] })).toThrow(/hub's own topics/);
    expect(() => topology({ shards: 65 })).toThrow(/at most 64/);
  });

  it('keeps a subscription event with its subscription', () => {
    const t = topology();
    const event = (type: string, match: string) =>
      `/.well-known/mercure/subscriptions/${type}/${encodeURIComponent(match)}/urn%3Auuid%3A1`;
    expect(objectOf(t, event('exact', '/books/1'))).toBe(objectOf(t, '/books/1'));
    expect(objectOf(t, event('exact', '/rooms/r/peers/p'))).toBe('room:r');
    const presence =
      '/.well-known/mercure/subscriptions/exact/%2Frooms%2Fr%2Fpeers%2F:peer([A-Za-z0-9_-]+)/:subscriber\\?#';
    expect(objectOf(t, event('urlpattern', presence))).toBe('room:r');
    expect(eventsObject(t, 'urlpattern', '/x/*')).toBe(objectOf(t, event('urlpattern', '/x/*')));
  });
});

describe('pinning matchers', () => {
  const t = topology({ shardRules: ['/orders/*=2', '/orders/a/*=1'] });
  const pattern = (match: string) => pinOf(t, { type: 'urlpattern', match });

  it('pins exact matchers to their topic, and never *', () => {
    expect(pinOf(t, { type: 'exact', match: '/x' })).toBe(objectOf(t, '/x'));
    expect(pinOf(t, { type: 'exact', match: '*' })).toBeUndefined();
    expect(pattern('*')).toBeUndefined();
  });

  it('pins a URL pattern only when a rule or a room holds every topic it can match', () => {
    expect(pattern('/orders/b/:id')).toBe('shard:2');
    expect(pattern('https://other.example/orders/b/:id')).toBe('shard:2');
    // An earlier rule takes part of what /orders/ covers, but not of /orders/b/.
    const split = topology({ shardRules: ['/orders/a/*=1', '/orders/*=2'] });
    expect(pinOf(split, { type: 'urlpattern', match: '/orders/:id' })).toBeUndefined();
    expect(pinOf(split, { type: 'urlpattern', match: '/orders/b/:id' })).toBe('shard:2');
    expect(pattern('/books/:id')).toBeUndefined();
    expect(pattern('/rooms/r/peers/:peer')).toBe('room:r');
    expect(pattern('/rooms/r:x')).toBeUndefined();
    expect(pattern('/.well-known/mercure/subscriptions/*')).toBeUndefined();
    expect(pattern('/orders/%2e%2e/:x')).toBeUndefined();
    expect(pattern('relative/:x')).toBeUndefined();
    expect(pinOf(t, { type: 'uritemplate', match: '/orders/{id}' })).toBe('shard:2');
  });
});

describe('composite cursors', () => {
  it('round-trips positions and the update id', () => {
    const cursor = composeCursor([-1, 0, 35, 123456789], 'urn:uuid:1');
    expect(cursor).toBe('~0.1.10.21i3va~urn:uuid:1');
    expect(parseCursor(cursor, 4)).toEqual([-1, 0, 35, 123456789]);
    expect(updateIdOf(cursor)).toBe('urn:uuid:1');
    expect(updateIdOf('plain')).toBe('plain');
  });

  it('takes only what it could have written, for this shard count, within its size', () => {
    for (const bad of [
      '~1.2~x',
      '~1.2.3.4.5~',
      '~A.1.1.1~',
      '~1..1.1~',
      '~1.1.1.1',
      'x',
      '~zzzzzzzzzzzz.1.1.1~',
    ]) {
      expect(parseCursor(bad, 4)).toBeUndefined();
    }
    expect(parseCursor(`~${'1.'.repeat(63)}1~`, 64)).toHaveLength(64);
    expect(parseCursor(`~${'0'.repeat(MAX_VECTOR_CHARS)}~`, 1)).toBeUndefined();
  });
});
