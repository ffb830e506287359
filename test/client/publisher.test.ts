/**
 * The client's `publish` against a real hub: what reaches subscribers (read with the independent
 * eventsource-parser), and the errors it raises with the hub's status and message.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientError, publish } from '../../src/client/index.ts';
import { fixtureEnv, publisherToken, subscriberToken } from '../conformance/target.ts';
import { freePort, startNodeHub } from '../helpers/hub.ts';
import { openStream } from '../helpers/sse.ts';

const HUB = '/.well-known/mercure';
const topicOf = (name: string) => `/client/publish/${name}/${crypto.randomUUID()}`;

let hub: Awaited<ReturnType<typeof startNodeHub>>;
let token: string;
let hubUrl: string;

beforeAll(async () => {
  [hub, token] = await Promise.all([startNodeHub(fixtureEnv), publisherToken()]);
  hubUrl = hub.url + HUB;
});
afterAll(async () => {
  await hub?.stop();
});

async function rejection(promise: Promise<unknown>): Promise<ClientError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ClientError);
  return error as ClientError;
}

describe('client publish', () => {
  it('publishes every field and resolves with the id subscribers see', async () => {
    const [topic, alternate] = [topicOf('fields'), topicOf('alternate')];
    const viaAlternate = await openStream(`${hubUrl}?match=${encodeURIComponent(alternate)}`);
    const id = await publish(
      hubUrl,
      { topics: [topic, alternate], data: 'a\nb ✓', type: 'note', retry: 1234, id: 'urn:example:1' },
      { token },
    );
    const generated = await publish(hubUrl, { topics: alternate, data: 'second' }, { token });
    expect(id).toBe('urn:example:1');
    expect(generated).toMatch(/^urn:uuid:/);
    const events = await viaAlternate.waitForEvents(2);
    expect(events.map((e) => [e.id, e.event, e.data])).toEqual([
      ['urn:example:1', 'note', 'a\nb ✓'],
      [generated, undefined, 'second'],
    ]);
    expect(viaAlternate.retries).toContain(1234);
    viaAlternate.close();
  });

  it('marks updates private: only subscribers with a token receive them', async () => {
    const topic = topicOf('private');
    const q = `?match=${encodeURIComponent(topic)}`;
    const anonymous = await openStream(hubUrl + q);
    const allowed = await openStream(hubUrl + q, { authorization: `Bearer ${await subscriberToken()}` });
    const secret = await publish(hubUrl, { topics: topic, data: 'secret', private: true }, { token });
    const open = await publish(hubUrl, { topics: topic, data: 'public' }, { token });
    expect((await allowed.waitForEvents(2)).map((e) => e.id)).toEqual([secret, open]);
    expect((await anonymous.waitForEvents(1)).map((e) => e.id)).toEqual([open]);
    expect(anonymous.events).toHaveLength(1);
    anonymous.close();
    allowed.close();
  });

  it('throws ClientError with the status and the hub’s message', async () => {
    const topic = topicOf('errors');
    const noToken = await rejection(publish(hubUrl, { topics: topic, data: 'x' }));
    expect([noToken.code, noToken.status]).toEqual(['http', 401]);
    expect(noToken.message).toContain('a token is required');

    const reserved = await rejection(publish(hubUrl, { topics: topic, type: 'mercure' }, { token }));
    expect(reserved.status).toBe(400);
    expect(reserved.message).toMatch(/HTTP 400: .*mercure/);

    const tooBig = 'x'.repeat(Number(fixtureEnv.SSEHUB_MAX_BODY_BYTES) + 1);
    const large = await rejection(publish(hubUrl, { topics: topic, data: tooBig }, { token }));
    expect(large.status).toBe(413);

    const unreachable = await rejection(
      publish(`http://127.0.0.1:${await freePort()}${HUB}`, { topics: topic }, { token }),
    );
    expect([unreachable.code, unreachable.status]).toEqual(['network', undefined]);

    const aborted = await rejection(
      publish(hubUrl, { topics: topic }, { token, signal: AbortSignal.abort() }),
    );
    expect(aborted.code).toBe('aborted');

    const badToken = await rejection(publish(hubUrl, { topics: topic }, { token: `${token}\n` }));
    expect(badToken.code).toBe('token');
  });

  it('refuses arguments the hub would reject before sending anything', async () => {
    await expect(publish(hubUrl, { topics: [] }, { token })).rejects.toThrow(TypeError);
    await expect(publish(hubUrl, { topics: '/t', retry: -1 }, { token })).rejects.toThrow(TypeError);
    await expect(publish(hubUrl, { topics: '/t', retry: 1.5 }, { token })).rejects.toThrow(TypeError);
  });
});
