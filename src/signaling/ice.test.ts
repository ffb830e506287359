/**
 * ICE servers of the join answer: coturn's shared-secret credentials, checked against an independent
 * HMAC (node:crypto), and the Cloudflare TURN provider against a local fake of its API (the real one
 * cannot be reached from here).
 */
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { cloudflareTurn, createIceServers, sharedSecretTurn } from './ice.ts';

describe('shared-secret TURN credentials (coturn use-auth-secret)', () => {
  it('are `expiry:peer` and the base64 HMAC-SHA1 of it under the secret', async () => {
    const now = 1_767_225_600_000;
    const mint = sharedSecretTurn({
      secret: 'north-wind',
      urls: ['turn:127.0.0.1:3478'],
      ttl: 600,
      now: () => now,
    });
    const grant = await mint('k3J0c2VhbGVkLXR');
    const username = `${now / 1000 + 600}:k3J0c2VhbGVkLXR`;
    expect(grant).toEqual({
      iceServers: [
        {
          urls: ['turn:127.0.0.1:3478'],
          username,
          credential: createHmac('sha1', 'north-wind').update(username).digest('base64'),
        },
      ],
      expiresAt: now + 600_000,
    });
  });

  it('come with the STUN servers; without a secret or TURN URLs, STUN only', async () => {
    const both = createIceServers({
      stunUrls: ['stun:stun.example.com:3478'],
      turnUrls: ['turn:turn.example.com:3478?transport=udp', 'turn:turn.example.com:3478?transport=tcp'],
      turnSecret: 's',
      turnTtl: 60,
    });
    const grant = await both.forPeer('p1');
    expect(grant.iceServers.map((s) => s.urls)).toEqual([
      ['stun:stun.example.com:3478'],
      ['turn:turn.example.com:3478?transport=udp', 'turn:turn.example.com:3478?transport=tcp'],
    ]);
    expect(grant.iceServers[1]?.username).toMatch(/^\d+:p1$/);
    expect(grant.expiresAt).toBeGreaterThan(Date.now());
    const stunOnly = createIceServers({ stunUrls: ['stun:a'], turnUrls: ['turn:b'], turnTtl: 60 });
    expect(await stunOnly.forPeer('p1')).toEqual({ iceServers: [{ urls: ['stun:a'] }] });
    expect(await createIceServers({ stunUrls: [], turnUrls: [], turnTtl: 60 }).forPeer('p')).toEqual({
      iceServers: [],
    });
  });
});

describe('Cloudflare TURN, against a local fake of its API', () => {
  let server: Server;
  let endpoint: string;
  const calls: Array<{ url: string; authorization: string | undefined; body: unknown }> = [];
  let reply: (request: IncomingMessage) => { status: number; body: string } = () => ({
    status: 201,
    body: JSON.stringify({
      iceServers: [
        { urls: ['stun:stun.cloudflare.com:3478'] },
        {
          urls: [
            'turn:turn.cloudflare.com:3478?transport=udp',
            'turns:turn.cloudflare.com:443?transport=tcp',
          ],
          username: `user-${calls.length}`,
          credential: `secret-${calls.length}`,
        },
      ],
    }),
  });

  beforeAll(async () => {
    server = createServer(async (request, response) => {
      let text = '';
      for await (const chunk of request) text += chunk;
      calls.push({
        url: request.url ?? '',
        authorization: request.headers.authorization,
        body: JSON.parse(text),
      });
      const { status, body } = reply(request);
      response.writeHead(status, { 'content-type': 'application/json' }).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/turn/keys/`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it('asks for credentials with the key id and token, and hands out what the API answered', async () => {
    calls.length = 0;
    let now = 1_000_000;
    const get = cloudflareTurn({ keyId: 'key-1', token: 'tok', ttl: 3600, endpoint, now: () => now });
    const grant = await get();
    expect(calls).toEqual([
      {
        url: '/v1/turn/keys/key-1/credentials/generate-ice-servers',
        authorization: 'Bearer tok',
        body: { ttl: 3600 },
      },
    ]);
    expect(grant.iceServers).toHaveLength(2);
    expect(grant.iceServers[1]).toMatchObject({ username: 'user-1', credential: 'secret-1' });
    expect(grant.expiresAt).toBe(1_000_000 + 3_600_000);

    // Every join meanwhile shares them: one call per half-lifetime, not one per stranger.
    await Promise.all(Array.from({ length: 20 }, () => get()));
    now += 1_700_000;
    expect((await get()).iceServers[1]?.username).toBe('user-1');
    expect(calls).toHaveLength(1);
    // Past half of their lifetime they are renewed; the joins meanwhile keep the current ones.
    now += 200_000;
    expect((await get()).iceServers[1]?.username).toBe('user-1');
    await vi.waitFor(() => expect(calls).toHaveLength(2));
    await vi.waitFor(async () => expect((await get()).iceServers[1]?.username).toBe('user-2'));
  });

  it('answers joins without TURN while the API fails, and does not call it more than every 10 s', async () => {
    calls.length = 0;
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    let now = 5_000_000;
    reply = () => ({ status: 500, body: '{"errors":[]}' });
    const ice = createIceServers({
      stunUrls: ['stun:own.example.com'],
      turnUrls: [],
      turnTtl: 600,
      cloudflareKeyId: 'key-2',
      cloudflareToken: 'tok',
    });
    // The hub's own provider calls the real API; this one reaches the fake.
    const get = cloudflareTurn({ keyId: 'key-2', token: 'tok', ttl: 600, endpoint, now: () => now });
    await expect(get()).rejects.toThrow(/500/);
    await expect(get()).rejects.toThrow(/unavailable/);
    expect(calls).toHaveLength(1);
    now += 10_001;
    reply = () => ({ status: 201, body: '{"iceServers":[{"urls":"javascript:alert(1)"}]}' });
    await expect(get()).rejects.toThrow(/usable/);
    expect(calls).toHaveLength(2);
    expect(errors).toHaveBeenCalledTimes(2);
    // The combined servers: a failing Cloudflare leaves the STUN servers (nothing is thrown at a join).
    const failing = vi.spyOn(globalThis, 'fetch').mockRejectedValue(new TypeError('fetch failed'));
    expect(await ice.forPeer('p')).toEqual({ iceServers: [{ urls: ['stun:own.example.com'] }] });
    failing.mockRestore();
    errors.mockRestore();
  });
});
