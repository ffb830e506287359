/**
 * Who may join: rooms off by default (404), gated by the application's own tokens (401/403), full
 * rooms (409), and settings that stop the hub at startup (exit code 2).
 */
import { decodeJwt, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { joinRoom } from '../../src/client/index.ts';
import { fixtureEnv, publisherToken } from '../conformance/target.ts';
import { hubEnv, startProcess } from '../helpers/hub.ts';
import { join, peerStreamUrl, type RestartableHub, startRoomsHub } from '../helpers/rooms.ts';
import { eventually, openStream } from '../helpers/sse.ts';

const APP_ISSUER = 'https://app.example.com';
const APP_SECRET = 'application-session-secret-0123456789';
const AUDIENCE = 'ssehub-rooms';

/** An application token, as the application's backend would sign it. */
function appToken(
  claims: Record<string, unknown>,
  options: { secret?: string; expiresIn?: number; aud?: string } = {},
) {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer(APP_ISSUER)
    .setAudience(options.aud ?? AUDIENCE)
    .setExpirationTime(Math.floor(Date.now() / 1000) + (options.expiresIn ?? 300))
    .sign(new TextEncoder().encode(options.secret ?? APP_SECRET));
}

describe('rooms off', () => {
  it('are off unless configured (or in development mode): 404, while the demo page still loads', async () => {
    const hub = await startRoomsHub({ SSEHUB_ROOMS: '' });
    try {
      const { status, text } = await join(hub.url, 'any');
      expect(status).toBe(404);
      expect(text).not.toContain('token');
      const demo = await fetch(`${hub.url}/demo`);
      expect(demo.status).toBe(200);
      expect(demo.headers.get('content-type')).toMatch(/^text\/html/);
      expect(await demo.text()).toContain('<script type="module" src="/demo.js"></script>');
      const script = await fetch(`${hub.url}/demo.js`);
      expect(await script.text()).toMatch(/^import \{[^}]*\bjoinRoom\b[^}]*\} from "\/client\.js";$/m);
      // Without rooms, /rooms/… topics are ordinary topics: no rooms guard on them.
      const plain = await fetch(`${hub.url}/.well-known/mercure`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${await publisherToken()}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ topic: '/rooms/any', data: 'public', type: 'state' }),
      });
      expect(plain.status).toBe(200);
    } finally {
      await hub.stop();
    }
  });
});

describe('rooms gated by application tokens', () => {
  let hub: RestartableHub;
  beforeAll(async () => {
    hub = await startRoomsHub({
      SSEHUB_ROOMS: 'token',
      SSEHUB_ROOMS_ISSUERS: JSON.stringify([{ issuer: APP_ISSUER, keys: [{ secret: APP_SECRET }] }]),
      SSEHUB_ROOMS_AUDIENCE: AUDIENCE,
    });
  });
  afterAll(() => hub?.stop());
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  it('admits a user whose token names the room, with the name and subject of the token', async () => {
    const token = await appToken({ sub: 'user-42', name: 'Grace Hopper', rooms: ['ops', 'design'] });
    const { status, answer } = await join(hub.url, 'design', { name: 'ignored' }, bearer(token));
    expect(status).toBe(200);
    const alice = await openStream(peerStreamUrl(hub.url, answer), bearer(answer.token));
    const other = await join(hub.url, 'design', {}, bearer(await appToken({ sub: 'user-7', rooms: ['*'] })));
    expect(other.answer.peers).toEqual([
      { id: answer.peer, name: 'Grace Hopper', user: 'user-42', subscribers: [expect.any(String)] },
    ]);
    alice.close();
  });

  it('refuses a missing or malformed token (401/400), a bad one (401), and a room the token does not name (403)', async () => {
    const missing = await join(hub.url, 'ops');
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="ssehub rooms"');
    expect((await join(hub.url, 'ops', {}, { authorization: 'Basic abc' })).status).toBe(400);
    const bad = [
      await appToken({ rooms: ['ops'] }, { secret: 'someone-elses-secret-0123456789abcd' }),
      await appToken({ rooms: ['ops'] }, { expiresIn: -60 }),
      await appToken({ rooms: ['ops'] }, { aud: 'another-service' }),
      'not.a.token',
    ];
    for (const token of bad) {
      const { status, headers } = await join(hub.url, 'ops', {}, bearer(token));
      expect(status).toBe(401);
      expect(headers.get('www-authenticate')).toContain('error="invalid_token"');
    }
    const wrongRoom = await join(hub.url, 'finance', {}, bearer(await appToken({ rooms: ['ops'] })));
    expect(wrongRoom.status).toBe(403);
    expect((await join(hub.url, 'ops', {}, bearer(await appToken({ sub: 'x' })))).status).toBe(403);
  });

  it('holds the name claim of the token to the rules of a typed name (400), and trims it', async () => {
    for (const name of ['Eve\u0000', 'Eve\u202eevE', '\u200bAda', 'x'.repeat(65)]) {
      const token = await appToken({ sub: 'u-names', name, rooms: ['names'] });
      const { status, text } = await join(hub.url, 'names', {}, bearer(token));
      expect({ name, status }).toEqual({ name, status: 400 });
      expect(text).toBe(
        `the token's "name" claim must be at most 64 characters, without control characters\n`,
      );
    }
    const token = await appToken({ sub: 'u-names', name: '  Grace  ', rooms: ['names'] });
    const { status, answer } = await join(hub.url, 'names', {}, bearer(token));
    expect(status).toBe(200);
    const details = decodeJwt(answer.token).authorization_details as Array<{ payload?: unknown }>;
    expect(details.find((d) => d.payload)?.payload).toMatchObject({ name: 'Grace', user: 'u-names' });
  });

  it('works from the client, which asks its token provider before joining', async () => {
    let asked = 0;
    const provider = () => {
      asked++;
      return appToken({ sub: 'u1', name: 'Provided', rooms: ['client'] });
    };
    const room = await joinRoom(hub.url, 'client', { token: provider });
    expect(asked).toBe(1);
    const other = await joinRoom(hub.url, 'client', {
      token: await appToken({ sub: 'u2', rooms: ['client'] }),
    });
    await eventually(() => other.peers.has(room.self.id), 'the first peer is present');
    expect(other.peers.get(room.self.id)).toEqual({ id: room.self.id, name: 'Provided', user: 'u1' });
    await expect(joinRoom(hub.url, 'elsewhere', { token: provider })).rejects.toMatchObject({ status: 403 });
    room.leave();
    other.leave();
  });

  it('resumes a peer id only for the same user', async () => {
    const ada = await appToken({ sub: 'ada', rooms: ['ops'] });
    const first = (await join(hub.url, 'ops', {}, bearer(ada))).answer;
    expect((await join(hub.url, 'ops', { resume: first.token }, bearer(ada))).answer.peer).toBe(first.peer);
    const mallory = await appToken({ sub: 'mallory', rooms: ['ops'] });
    const stolen = (await join(hub.url, 'ops', { resume: first.token }, bearer(mallory))).answer;
    expect(stolen.peer).not.toBe(first.peer);
    expect(stolen.resumed).toBe(false);
  });
});

describe('room capacity', () => {
  it('refuses a peer beyond the limit with 409, but lets a present peer renew its token', async () => {
    const hub = await startRoomsHub({ SSEHUB_ROOMS_MAX_PEERS: '1' });
    try {
      const first = (await join(hub.url, 'small')).answer;
      const stream = await openStream(peerStreamUrl(hub.url, first), {
        authorization: `Bearer ${first.token}`,
      });
      const full = await join(hub.url, 'small');
      expect(full.status).toBe(409);
      expect(full.text).toBe('the room is full (1 peers)\n');
      expect((await join(hub.url, 'small', { resume: first.token })).status).toBe(200);
      stream.close();
    } finally {
      await hub.stop();
    }
  });
});

describe('rooms settings', () => {
  const failing = async (env: Record<string, string>) => {
    const started = startProcess('node', ['--import', 'tsx', 'src/runtimes/cli.ts'], {
      env: hubEnv({ ...fixtureEnv, PORT: '0', HOST: '127.0.0.1', ...env }),
      ready: /listening on/,
    });
    const error = await started.then(
      async (proc) => {
        await proc.stop();
        return new Error('the hub started');
      },
      (e: Error) => e,
    );
    return error.message;
  };

  it('stop the hub at startup with exit code 2 and a message naming the setting', async () => {
    expect(await failing({ SSEHUB_ROOMS: 'maybe' })).toMatch(
      /exited \(2\)[\s\S]*SSEHUB_ROOMS must be one of open, token, off/,
    );
    expect(await failing({ SSEHUB_ROOMS: 'token' })).toMatch(/exited \(2\)[\s\S]*SSEHUB_ROOMS_ISSUERS/);
    expect(await failing({ SSEHUB_ROOMS: 'token', SSEHUB_ROOMS_ISSUERS: '[{"issuer":"x"}]' })).toMatch(
      /exited \(2\)[\s\S]*SSEHUB_ROOMS_ISSUERS\[0\]\.keys/,
    );
    expect(
      await failing({
        SSEHUB_ROOMS: 'open',
        SSEHUB_JWT_KEY: '',
        SSEHUB_ISSUERS: '[]',
        SSEHUB_ALLOW_ANONYMOUS_PUBLISH: 'true',
      }),
    ).toMatch(/exited \(2\)[\s\S]*SSEHUB_ROOMS_KEY/);
  });
});
