/**
 * Observability, black-box: the latency histograms fill as updates are published and replayed,
 * refusals are counted by reason, every metric the Grafana dashboard (docs/grafana-dashboard.json)
 * queries is served by `/metrics`, and SSEHUB_LOG_FORMAT=json makes every log line a JSON object.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publish, publishOk, q, subscribe, uniqueTopic } from '../conformance/client.ts';
import { fixtureEnv } from '../conformance/target.ts';
import { startNodeHub } from '../helpers/hub.ts';
import { eventually } from '../helpers/sse.ts';

describe('metrics, dashboard and JSON logs', () => {
  let hub: Awaited<ReturnType<typeof startNodeHub>>;
  beforeAll(async () => {
    hub = await startNodeHub({
      ...fixtureEnv,
      SSEHUB_LOG_FORMAT: 'json',
      SSEHUB_RATE_LIMIT_PUBLISH: '1000/1s',
    });
  });
  afterAll(() => hub?.stop());

  const metrics = async () => (await fetch(`${hub.url}/metrics`)).text();
  const value = (text: string, series: string) => {
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
  };

  it('measures publish latency and replay duration, and counts refusals by reason', async () => {
    const topic = uniqueTopic();
    const live = await subscribe(hub.url, `match=${q(topic)}`);
    const first = await publishOk(hub.url, { topic, data: 'one' });
    await publishOk(hub.url, { topic, data: 'two' });
    await live.waitForEvents(2);
    const replay = await subscribe(hub.url, `match=${q(topic)}`, { 'last-event-id': first });
    await replay.waitForEvents(1);
    expect((await publish(hub.url, { data: 'no topic' })).status).toBe(400);
    expect((await publish(hub.url, { topic, data: 'x' }, { token: null })).status).toBe(401);
    const text = await metrics();
    expect(value(text, 'ssehub_publish_latency_seconds_count')).toBeGreaterThanOrEqual(2);
    expect(value(text, 'ssehub_publish_latency_seconds_sum')).toBeLessThan(5);
    expect(value(text, 'ssehub_replay_duration_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(value(text, 'ssehub_rejected_requests_total{reason="bad_request"}')).toBeGreaterThanOrEqual(1);
    expect(value(text, 'ssehub_rejected_requests_total{reason="unauthorized"}')).toBeGreaterThanOrEqual(1);
    live.close();
    replay.close();
  });

  it('reports the process: CPU, memory, start time, open files and their limit', async () => {
    const text = await metrics();
    const cpu = value(text, 'process_cpu_seconds_total')!;
    expect(cpu).toBeGreaterThan(0);
    expect(value(text, 'process_resident_memory_bytes')).toBeGreaterThan(10 * 2 ** 20);
    expect(Math.abs(value(text, 'process_start_time_seconds')! - Date.now() / 1000)).toBeLessThan(300);
    // Open files are counted at most once a second. Each stream holds one: twenty streams open, at
    // least twenty files and the listener; closed (fetch lets go of its sockets a moment after an
    // abort), most of them go — keep-alive connections of other requests come and go meanwhile.
    const settled = async () => {
      await eventually(async () => value(await metrics(), 'ssehub_connections') === 0, 'streams closed');
      await new Promise((r) => setTimeout(r, 1100));
      return value(await metrics(), 'process_open_fds')!;
    };
    await settled();
    const streams = await Promise.all(
      Array.from({ length: 20 }, () => subscribe(hub.url, `match=${q(uniqueTopic())}`)),
    );
    await new Promise((r) => setTimeout(r, 1100));
    const later = await metrics();
    expect(value(later, 'ssehub_connections')).toBe(20);
    expect(value(later, 'process_open_fds')).toBeGreaterThan(20);
    expect(value(later, 'process_max_fds')).toBeGreaterThan(value(later, 'process_open_fds')!);
    expect(value(later, 'process_cpu_seconds_total')).toBeGreaterThan(cpu);
    expect(value(later, 'ssehub_heap_used_bytes')).toBeLessThanOrEqual(
      value(later, 'ssehub_heap_total_bytes')!,
    );
    for (const s of streams) s.close();
    const full = value(later, 'process_open_fds')!;
    await eventually(
      async () => value(await metrics(), 'process_open_fds')! < full - 15,
      'the files of the closed streams to be counted out',
    );
  });

  it('serves every metric the Grafana dashboard queries', async () => {
    const dashboard = JSON.parse(readFileSync('docs/grafana-dashboard.json', 'utf8')) as {
      panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
    };
    const names = new Set(
      dashboard.panels.flatMap((p) =>
        p.targets.flatMap((t) => [...t.expr.matchAll(/\b(?:ssehub|process)_[a-z_]+/g)].map((m) => m[0])),
      ),
    );
    expect(names.size).toBeGreaterThan(10);
    const served = new Set(
      [...(await metrics()).matchAll(/^# TYPE ((?:ssehub|process)_[a-z_]+) (\w+)/gm)].map((m) => m[1]!),
    );
    // History length comes from the broker (memory here); histograms are queried by their buckets.
    const missing = [...names].filter((n) => !served.has(n) && !served.has(n.replace(/_bucket$/, '')));
    expect(missing).toEqual([]);
  });

  it('logs one JSON object per line', () => {
    const lines = hub.output().trim().split('\n');
    expect(lines.length).toBeGreaterThan(1);
    for (const line of lines) {
      const record = JSON.parse(line);
      expect(record).toMatchObject({
        level: expect.stringMatching(/^(info|warn|error)$/),
        msg: expect.any(String),
      });
      expect(Number.isNaN(Date.parse(record.time))).toBe(false);
    }
    expect(lines.some((l) => JSON.parse(l).msg.includes('listening on'))).toBe(true);
  });
});
