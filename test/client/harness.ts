/**
 * What the client's black-box tests share: a Node hub with the conformance fixture, tokens for it,
 * and subscriptions and TCP proxies that are closed after each test.
 */
import { afterAll, afterEach, beforeAll } from 'vitest';
import { type SubscribeOptions, type Subscription, subscribe } from '../../src/client/index.ts';
import { fixtureEnv, publisherToken, subscriberToken } from '../conformance/target.ts';
import { startNodeHub } from '../helpers/hub.ts';
import { startProxy, type TcpProxy } from '../helpers/proxy.ts';
import { record } from '../helpers/recorder.ts';

export const HUB = '/.well-known/mercure';
export const topicOf = (name: string) => `/client/${name}/${crypto.randomUUID()}`;

/** Registers the suite's hooks; the returned getters are valid inside tests. */
export function useClientHub() {
  let hub: Awaited<ReturnType<typeof startNodeHub>> | undefined;
  let pubToken = '';
  let subToken = '';
  const subscriptions: Subscription[] = [];
  const proxies: TcpProxy[] = [];

  beforeAll(async () => {
    [hub, pubToken, subToken] = await Promise.all([
      startNodeHub(fixtureEnv),
      publisherToken(),
      subscriberToken(),
    ]);
  });
  afterEach(async () => {
    for (const s of subscriptions.splice(0)) s.close();
    await Promise.all(proxies.splice(0).map((p) => p.close()));
  });
  afterAll(async () => {
    await hub?.stop();
  });

  return {
    get hub() {
      return hub!;
    },
    get pubToken() {
      return pubToken;
    },
    get subToken() {
      return subToken;
    },
    /** Subscribes to the hub at `base` (the subscriber token unless `options` has one), recorded. */
    open(base: string, options: SubscribeOptions) {
      const subscription = subscribe(base + HUB, { token: subToken, ...options });
      subscriptions.push(subscription);
      return { subscription, rec: record(subscription) };
    },
    /** A TCP proxy in front of the hub (or of another one on `port`), to cut connections. */
    async proxy(port = hub!.port) {
      const p = await startProxy(port);
      proxies.push(p);
      return p;
    },
  };
}
