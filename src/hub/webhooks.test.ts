import { Webhook } from 'standardwebhooks';
import { describe, expect, it, vi } from 'vitest';
import { createMemoryBroker, createMemoryLedger, subscriptionUpdate } from '../brokers/index.ts';
import { ConfigError } from '../config/index.ts';
import { Metrics } from './metrics.ts';
import { Webhooks } from './webhooks.ts';

const SECRET = `whsec_${btoa('0123456789abcdef0123456789abcdef')}`;
const HUB = '/.well-known/mercure';

const subscription = (match: string, subscriber: string) => ({
  id: `${HUB}/subscriptions/exact/${encodeURIComponent(match)}/${encodeURIComponent(subscriber)}`,
  type: 'subscription' as const,
  match_type: 'exact',
  match,
  subscriber,
  active: true,
});

function setup(answers: number[], settings: Record<string, unknown> = {}, gate?: Promise<void>) {
  const broker = createMemoryBroker();
  const metrics = new Metrics();
  const received: Array<{ id: string; type: string; status: number }> = [];
  let settle: () => void = () => {};
  const fetch = (async (_url: string, init: RequestInit) => {
    const headers = init.headers as Record<string, string>;
    const event = new Webhook(SECRET).verify(init.body as string, headers) as { type: string };
    const status = answers.shift() ?? 200;
    received.push({ id: headers['webhook-id']!, type: event.type, status });
    settle();
    await gate;
    return new Response(null, { status });
  }) as typeof globalThis.fetch;
  const hooks = Webhooks.fromSettings(
    { webhookUrl: 'https://app.example/hooks', webhookSecret: SECRET, webhookBackoff: 10, ...settings },
    { broker, ledger: createMemoryLedger, metrics, hubPath: HUB, fetch },
  )!;
  const until = (predicate: () => boolean) =>
    new Promise<void>((resolve) => {
      settle = () => {
        if (predicate()) resolve();
      };
      settle();
    });
  return { broker, metrics, received, hooks, until };
}

describe('Webhooks', () => {
  it('refuses bad settings', () => {
    const deps = {
      broker: createMemoryBroker(),
      ledger: createMemoryLedger,
      metrics: new Metrics(),
      hubPath: HUB,
    };
    expect(Webhooks.fromSettings({}, deps)).toBeUndefined();
    for (const settings of [
      { webhookUrl: 'ftp://x' },
      { webhookUrl: 'https://x' },
      { webhookUrl: 'https://x', webhookSecret: 'whsec_!!!' },
      { webhookUrl: 'https://x', webhookSecret: SECRET, webhookEvents: ['nope'] },
      { webhookUrl: 'https://x', webhookSecret: SECRET, subscriptionEvents: false },
    ]) {
      expect(() => Webhooks.fromSettings(settings, deps), JSON.stringify(settings)).toThrow(ConfigError);
    }
  });

  it('sends signed events, retries with the same id, and counts', async () => {
    const { broker, metrics, received, hooks, until } = setup([500, 503]);
    await broker.publish(subscriptionUpdate(subscription('/a', 's1'), true));
    await until(() => received.filter((r) => r.status === 200).length === 2);
    const types = received.filter((r) => r.status === 200).map((r) => r.type);
    expect(types.sort()).toEqual(['subscription.active', 'topic.occupied']);
    // The two failures were retries of events that then went through with the same id.
    const ids = new Set(received.map((r) => r.id));
    expect(ids.size).toBe(2);
    // Counted once the answers are read, just after the fake endpoint saw them.
    await vi.waitFor(() => expect(metrics.webhooks).toMatchObject({ delivered: 2, retried: 2, failed: 0 }));
    await hooks.close();
  });

  it('drops events past the queue bound, and only sends the types asked for', async () => {
    // The endpoint holds every answer, so the four events in flight fill the bound of four.
    let release = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { broker, metrics, received, hooks, until } = setup(
      [],
      { webhookQueue: 4, webhookEvents: ['subscription.active'] },
      gate,
    );
    for (let i = 0; i < 6; i++)
      await broker.publish(subscriptionUpdate(subscription(`/q${i}`, `s${i}`), true));
    await until(() => received.length === 4);
    await vi.waitFor(() => expect(metrics.webhooks.dropped).toBe(2));
    expect(new Set(received.map((r) => r.type))).toEqual(new Set(['subscription.active']));
    release();
    await hooks.close();
    expect(received).toHaveLength(4);
  });

  it('gives what waits for a retry one last attempt on close', async () => {
    const { broker, received, hooks, until } = setup([500], {
      webhookBackoff: 60_000,
      webhookEvents: ['topic.occupied'],
    });
    await broker.publish(subscriptionUpdate(subscription('/c', 's'), true));
    await until(() => received.length === 1);
    await hooks.close();
    expect(received.map((r) => r.status)).toEqual([500, 200]);
  });
});
