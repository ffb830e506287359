/**
 * The crowd scenarios' plumbing against real servers: Nchan (nginx + the module, when installed)
 * spoken to through its wire, restarted under resuming subscribers and stopped whole; the hub
 * verifying the bench's tokens, reached from another loopback source address.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CrowdServer, tokenHeaders } from './crowd-kit.ts';
import { Ledger } from './ledger.ts';
import { runLoad } from './loadgen.ts';
import { NCHAN_MODULE, NGINX } from './nchan.ts';
import { commandLine, processInfo, processTree } from './proc.ts';
import { runReconnectStorm } from './reconnect-storm.ts';
import { type RunningServer, SERVERS, startServer } from './servers.ts';
import { openSubscribers } from './subscriber.ts';
import { freshKey } from './tokens.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const noNchan = !existsSync(NGINX) || !existsSync(NCHAN_MODULE);

function crowdServer(server: RunningServer, key: string, verifiesTokens: boolean): CrowdServer {
  return { ...server, target: server.targets[0]!, restart: () => server.restart(), key, verifiesTokens };
}

describe.skipIf(noNchan)('nchan: a private nginx with the Nchan module', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(SERVERS.find((s) => s.name === 'nchan')!, {
      root: ROOT,
      logFile: join(ROOT, 'bench', 'logs', 'test-nchan.log'),
    });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('delivers every event to every subscriber through its own wire', async () => {
    const r = await runLoad({
      target: server.targets,
      wire: server.wire,
      topic: 'https://bench.ssehub.test/topic/1',
      subscribers: 5,
      rate: 40,
      payloadBytes: 512,
      warmupMs: 300,
      durationMs: 1000,
      probe: server.probe,
    });
    expect(r.errors).toEqual([]);
    expect(r.published).toBeGreaterThanOrEqual(10);
    expect(r.publishFailed).toBe(0);
    expect(r.lost + r.duplicates + r.outOfOrder + r.malformed + r.serverClosed).toBe(0);
    expect(r.latencyMs.samples).toBe(r.published * 5);
    expect(r.serverCpuParts.has('nginx worker')).toBe(true);
    // The worker's run-queue wait, not the idle master's.
    expect(Number.isFinite(r.serverWaitPercent)).toBe(true);
  });

  it('comes back after a restart, and its subscribers resume from its buffer', async () => {
    const r = await runReconnectStorm(crowdServer(server, freshKey(), false), {
      topic: 'https://bench.ssehub.test/topic/2',
      payloadBytes: 512,
      subscribers: 20,
      rate: 10,
      beforeMs: 1_000,
      afterMs: 1_000,
      retryMs: 200,
      timeoutMs: 20_000,
    });
    expect(r.live).toBe(20);
    expect(Number.isFinite(r.allLiveSeconds)).toBe(true);
    expect(r.resumedWithId).toBe(20);
    expect(r.duplicates + r.outOfOrder).toBe(0);
    // Events delivered before the restart were delivered; what a restart can lose comes after.
    expect(r.lostEvents.before).toBe(0);
    expect(r.published).toBeGreaterThan(15);
  });

  it('stops nginx whole and removes its directory', async () => {
    const tree = processTree(process.pid)
      .slice(1)
      .map((pid) => processInfo(pid)!)
      .filter((p) => p.comm === 'nginx');
    expect(tree.map((p) => commandLine(p.pid).split(' ')[1]).sort()).toEqual(['master', 'worker']);
    const dir = /-p (\S+)/.exec(
      commandLine(tree.find((p) => commandLine(p.pid).includes('master'))!.pid),
    )![1]!;
    expect(existsSync(join(dir, 'nginx.conf'))).toBe(true);
    await server.stop();
    for (const p of tree) expect(processInfo(p.pid)?.startTicks).not.toBe(p.startTicks);
    expect(existsSync(dir)).toBe(false);
  });
});

describe('hub: the bench tokens', () => {
  const key = freshKey();
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(SERVERS.find((s) => s.name === 'hub')!, {
      root: ROOT,
      logFile: join(ROOT, 'bench', 'logs', 'test-hub-tokens.log'),
      env: { SSEHUB_JWT_KEY: key },
    });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('accepts a subscriber token signed with its key, from another loopback address', async () => {
    const topic = 'https://bench.ssehub.test/topic/3';
    const headers = tokenHeaders(crowdServer(server, key, true), topic);
    const subs = await openSubscribers(new Ledger(512), server.targets, server.wire.subscribePath(topic), 2, {
      connect: (i) => ({ headers: headers.subscriber(i), localAddress: `127.0.0.${2 + i}` }),
    });
    expect(subs.every((s) => s.isOpen)).toBe(true);
    for (const s of subs) s.close();
  });

  it('refuses a token signed with another key', async () => {
    const topic = 'https://bench.ssehub.test/topic/3';
    const headers = tokenHeaders(crowdServer(server, freshKey(), true), topic);
    await expect(
      openSubscribers(new Ledger(512), server.targets, server.wire.subscribePath(topic), 1, {
        connect: (i) => ({ headers: headers.subscriber(i) }),
      }),
    ).rejects.toThrow(/answered 401/);
  });
});
