import { describe, expect, it } from 'vitest';
import { createMemoryBroker } from '../brokers/index.ts';
import { defaults } from '../config/index.ts';
import { createHub } from './app.ts';

describe('hub shutdown', () => {
  it('ends open streams and answers new subscriptions with the retry hint and a clean end', async () => {
    const hub = createHub({
      broker: createMemoryBroker(),
      settings: { ...defaults, allowAnonymousPublish: true, retry: 1234 },
    });
    const open = await hub.app.request('/.well-known/mercure?match=%2Fa');
    const reading = open.text();
    await hub.shutdown();
    expect(await reading).toBe('retry: 1234\n\n');
    const late = await hub.app.request('/.well-known/mercure?match=%2Fa');
    expect(late.status).toBe(200);
    expect(late.headers.get('connection')).toBe('close');
    expect(await late.text()).toBe('retry: 1234\n\n');
    expect(hub.dispatcher.subscribers.size).toBe(0);
  });
});
