/** The report's tables for the crowd scenarios (v)–(vii): rows, titles, how to read them, notes. */
import type { ConnectStormResult } from './connect-storm.ts';
import type { IdleCrowdResult } from './idle-crowd.ts';
import type { ReconnectStormResult } from './reconnect-storm.ts';
import { fixed, int, type Row } from './report-table.ts';
import {
  type BenchConfig,
  CONTENDED_PERCENT,
  GENERATOR_BUSY_PERCENT,
  type ScenarioResult,
} from './scenarios.ts';

const kib = (bytes: number) => bytes / 1024;
const mib = (bytes: number) => bytes / 2 ** 20;
const yesNo = (verifies: boolean) => (verifies ? 'yes' : 'no (ignored)');

function stormRows(): Row[] {
  const S =
    (f: (s: ConnectStormResult) => number | string): Row['cell'] =>
    (r) =>
      r.kind === 'connect-storm' ? f(r.storm) : undefined;
  return [
    { label: 'subscribers opening at once', better: 'none', cell: S((s) => s.subscribers), format: int },
    { label: 'tokens verified by the server', better: 'none', cell: S((s) => yesNo(s.verifiesTokens)) },
    {
      label: '**time until all are open (s)**',
      better: 'lower',
      cell: S((s) => s.allOpenSeconds),
      format: fixed(2),
    },
    { label: 'time to open, p50 (ms)', better: 'lower', cell: S((s) => s.openMs.p50), format: fixed(0) },
    { label: 'time to open, p99 (ms)', better: 'lower', cell: S((s) => s.openMs.p99), format: fixed(0) },
    { label: 'streams opened / failed', better: 'none', cell: S((s) => `${s.opened} / ${s.failed}`) },
    {
      label: '**server CPU per connection (µs)**',
      better: 'lower',
      cell: S((s) => s.serverCpuMicrosPerConnection),
      format: fixed(0),
    },
    {
      label: '**second storm on the same process: server CPU per connection (µs)**',
      better: 'lower',
      cell: S((s) => s.second.serverCpuMicrosPerConnection),
      format: fixed(0),
    },
    {
      label: 'second storm: time until all are open (s)',
      better: 'lower',
      cell: S((s) => s.second.allOpenSeconds),
      format: fixed(2),
    },
    {
      label: 'second storm: streams opened / failed',
      better: 'none',
      cell: S((s) => `${s.second.opened} / ${s.second.failed}`),
    },
    {
      label: 'server CPU until all open (% of its core)',
      better: 'none',
      cell: S((s) => s.serverCpuPercent),
      format: fixed(0),
    },
    {
      label: 'RSS per connection (KiB)',
      better: 'lower',
      cell: S((s) => kib(s.rssPerConnectionBytes)),
      format: fixed(2),
    },
    {
      label: 'listen-queue overflows (kernel)',
      better: 'none',
      cell: S((s) => s.listenOverflows),
      format: int,
    },
    {
      label: 'subscribers reached by a publish afterwards',
      better: 'none',
      cell: S((s) => `${s.reached} / ${s.opened}`),
    },
    {
      label: 'generator CPU until all open (%)',
      better: 'none',
      cell: S((s) => s.generatorCpuPercent),
      format: fixed(0),
    },
    {
      label: 'server kept waiting for its core (%)',
      better: 'none',
      cell: S((s) => s.serverWaitPercent),
      format: fixed(1),
    },
  ];
}

function reconnectRows(): Row[] {
  const R =
    (f: (s: ReconnectStormResult) => number | string): Row['cell'] =>
    (r) =>
      r.kind === 'reconnect-storm' ? f(r.storm) : undefined;
  return [
    { label: 'subscribers', better: 'none', cell: R((s) => s.subscribers), format: int },
    { label: 'publish rate (events/s)', better: 'none', cell: R((s) => s.rate), format: int },
    { label: 'tokens verified by the server', better: 'none', cell: R((s) => yesNo(s.verifiesTokens)) },
    {
      label: 'old server gone / new one listening after (s)',
      better: 'none',
      cell: R((s) => `${fixed(2)(s.restart.stopSeconds)} / ${fixed(2)(s.restart.startSeconds)}`),
    },
    {
      label: '**time until all are live again, from the restart (s)**',
      better: 'lower',
      cell: R((s) => s.allLiveSeconds),
      format: fixed(2),
    },
    {
      label: '… from the new server listening (s)',
      better: 'lower',
      cell: R((s) => s.allLiveAfterListeningSeconds),
      format: fixed(2),
    },
    {
      label: 'listen-queue overflows (kernel)',
      better: 'none',
      cell: R((s) => s.listenOverflows),
      format: int,
    },
    { label: 'live at the end', better: 'none', cell: R((s) => `${s.live} / ${s.subscribers}`) },
    {
      label: 'reconnection attempts / failed',
      better: 'none',
      cell: R((s) => `${int(s.attempts)} / ${int(s.failedAttempts)}`),
    },
    { label: 'came back with Last-Event-ID', better: 'none', cell: R((s) => s.resumedWithId), format: int },
    {
      label: 'events accepted / publishes failed',
      better: 'none',
      cell: R((s) => `${int(s.published)} / ${int(s.publishFailed)}`),
    },
    { label: '**lost (subscriber × event)**', better: 'none', cell: R((s) => s.lost), format: int },
    {
      label: 'subscribers that missed events',
      better: 'none',
      cell: R((s) => s.lossySubscribers),
      format: int,
    },
    {
      label: 'events missed, accepted: before the restart / while stopping / after',
      better: 'none',
      cell: R((s) => `${s.lostEvents.before} / ${s.lostEvents.stopping} / ${s.lostEvents.after}`),
    },
    {
      label: 'duplicates / out of order',
      better: 'none',
      cell: R((s) => `${s.duplicates} / ${s.outOfOrder}`),
    },
    {
      label: 'longest publish → receive (s)',
      better: 'lower',
      cell: R((s) => s.latencyMaxSeconds),
      format: fixed(2),
    },
    {
      label: 'server CPU per resumed subscriber (µs)',
      better: 'lower',
      cell: R((s) => s.serverCpuMicrosPerResume),
      format: fixed(0),
    },
    {
      label: 'server CPU until all were back (% of its core)',
      better: 'none',
      cell: R((s) => s.serverCpuPercent),
      format: fixed(0),
    },
    { label: 'generator CPU (%)', better: 'none', cell: R((s) => s.generatorCpuPercent), format: fixed(0) },
  ];
}

function crowdRows(): Row[] {
  const C =
    (f: (c: IdleCrowdResult) => number | string): Row['cell'] =>
    (r) =>
      r.kind === 'idle-crowd' ? f(r.crowd) : undefined;
  return [
    {
      label: 'idle subscribers held (asked)',
      better: 'none',
      cell: C((c) => `${int(c.connections)}${c.connections < c.asked ? ` (${int(c.asked)})` : ''}`),
    },
    { label: 'source addresses', better: 'none', cell: C((c) => c.sources), format: int },
    { label: 'tokens verified by the server', better: 'none', cell: C((c) => yesNo(c.verifiesTokens)) },
    {
      label: 'server RSS before / after (MiB)',
      better: 'none',
      cell: C((c) => `${fixed(1)(mib(c.rssBeforeBytes))} / ${fixed(1)(mib(c.rssAfterBytes))}`),
    },
    {
      label: '**RSS per idle connection (KiB)**',
      better: 'lower',
      cell: C((c) => kib(c.rssPerConnectionBytes)),
      format: fixed(2),
    },
    { label: 'time to open all (s)', better: 'lower', cell: C((c) => c.openSeconds), format: fixed(1) },
    {
      label: '**heartbeat CPU (% of a core)**',
      better: 'lower',
      cell: C((c) => c.heartbeatCpuPercent),
      format: fixed(2),
    },
    {
      label: 'keep-alives per subscriber in the window',
      better: 'none',
      cell: C((c) => c.heartbeatsPerConnection),
      format: fixed(1),
    },
    {
      // The window holds two or three beats depending on where it falls: per keep-alive compares servers.
      label: 'server CPU in the window per keep-alive (µs)',
      better: 'lower',
      cell: C((c) =>
        c.heartbeatsPerConnection > 0
          ? ((c.heartbeatCpuPercent / 100) * c.heartbeatWindowSeconds * 1e6) /
            (c.heartbeatsPerConnection * c.connections)
          : Number.NaN,
      ),
      format: fixed(1),
    },
    {
      label: '**one event to all: the last has it after (ms)**',
      better: 'lower',
      cell: C((c) => c.fanoutAllMs),
      format: fixed(0),
    },
    {
      label: '… the median subscriber (ms)',
      better: 'lower',
      cell: C((c) => c.fanoutP50Ms),
      format: fixed(0),
    },
    { label: 'subscribers reached', better: 'none', cell: C((c) => `${c.reached} / ${c.connections}`) },
    {
      label: 'server CPU per delivery of that event (µs)',
      better: 'lower',
      cell: C((c) => c.fanoutCpuMicrosPerDelivery),
      format: fixed(2),
    },
    { label: 'server-closed connections', better: 'none', cell: C((c) => c.serverClosed), format: int },
    {
      label: 'generator CPU opening / in the window (%)',
      better: 'none',
      cell: C((c) => `${fixed(0)(c.generatorCpuPercentOpening)} / ${fixed(1)(c.generatorCpuPercentWindow)}`),
    },
    {
      label: 'server / generator kept waiting in the window (%)',
      better: 'none',
      cell: C((c) => `${fixed(1)(c.serverWaitPercent)} / ${fixed(1)(c.generatorWaitPercent)}`),
    },
  ];
}

const TOKENS =
  'Every request carries an access token (HS256, `typ: at+jwt`, a `sub` per subscriber, a grant on the topic, ' +
  'bench/tokens.ts). The hub, started with the run’s secret in `SSEHUB_JWT_KEY`, verifies each one; Nchan has no ' +
  'JWT check of its own (it would take an `nchan_authorize_request` subrequest to the application) and the baseline ' +
  'has none, so both ignore the header and their figures include no token check.';

/** Title, rows, description and reading notes of (v)–(vii). */
export const CROWD_TITLES = {
  v: {
    title: '(v) Connect storm',
    rows: stormRows,
    describe: (c: BenchConfig) =>
      `${c.connectStorm.subscribers} subscribers open their streams at once: every connect() is issued in one turn of ` +
      'the generator’s event loop, with no limit on handshakes in flight, after a warm-up burst and 1 s of rest. ' +
      '“Open” is the response head (200, `text/event-stream`). Server CPU runs from the first connect() until 1 s after ' +
      'the last head (work the server defers, such as the hub’s subscription events, is included); RSS is read at the ' +
      `same moments. ${TOKENS} A listen queue that overflows drops SYNs, which the client sends again after 1 s (then ` +
      '3 s, 7 s…), so the time until all are open is partly the kernel’s; each server keeps its default listen backlog ' +
      '(511 for Node and for nginx on Linux), and the overflows the kernel counted are shown. Once those streams have ' +
      'closed and 2 s have passed, a second storm of as many (new tokens) hits the same process, measured the same ' +
      'way: the first storm finds a process whose code for new subscriptions is not compiled yet and whose heap has ' +
      'not grown (a process just started), the second one a warm process (one that has been serving a while).',
  },
  vi: {
    title: '(vi) Reconnect storm',
    rows: reconnectRows,
    describe: (c: BenchConfig) =>
      `${c.reconnectStorm.subscribers} subscribers, ${c.reconnectStorm.rate} events/s published throughout. After ` +
      `${c.reconnectStorm.beforeMs / 1000} s the server is restarted: SIGTERM, and once it has exited the same command ` +
      'on the same port, up when its socket listens (read from /proc/net/tcp: a probe connection would queue behind ' +
      'the storm); nothing survives it (the hub’s history is in memory, Nchan’s message buffer in shared memory ' +
      'that goes with nginx). The subscribers come back as EventSource does: after the server’s `retry` (the hub sends ' +
      `2000 ms), else ${c.reconnectStorm.retryMs} ms, and again after every failed attempt, with \`Last-Event-ID\` set ` +
      `to the last id they saw. Publishing goes on for ${c.reconnectStorm.afterMs / 1000} s after all are back; then ` +
      'every event a server accepted (200, or 201/202 from Nchan) must have reached every subscriber exactly once. ' +
      `Publishes that failed during the restart are not counted. ${TOKENS}`,
    reading: [
      'What each server does with `Last-Event-ID` after a restart. The hub does not know an id from before it; it ' +
        'answers `Mercure-Last-Event-ID: earliest` and replays all the history it has, which is everything published ' +
        'since it started: nothing accepted by the new process is missed, nothing is sent twice. Nchan’s ids are ' +
        '`<unix time>:<n>`; a resuming subscriber gets the buffered messages after its id, which after a restart are ' +
        'those published since — unless the new nginx stamps them in the same second as that id: its counter starts ' +
        'again at 0, so they compare as older and are skipped (by hand here: last id `T:2` before the restart, ' +
        'messages `T:0`…`T:3` after it, only `T:3` delivered). The baseline ignores `Last-Event-ID` and keeps no ' +
        'history: what is published while its subscribers are away is lost to them.',
      'Losses are split by when the server accepted the event. “While stopping”: a server that has closed its ' +
        'streams but still answers publishes until it exits (the hub’s shutdown closes the streams first, then ' +
        'lets requests finish for up to 2 s) accepts events nobody receives, and its history goes with it. ' +
        '“After”: accepted by the new process and not delivered to a subscriber that came back.',
    ],
  },
  vii: {
    title: '(vii) A large idle crowd on one process',
    rows: crowdRows,
    describe: (c: BenchConfig) =>
      `${c.idleCrowd.connections} idle subscribers asked for, opened 200 handshakes at a time from the source ` +
      `addresses 127.0.n.2, 127.0.n.3, … (at most ${c.idleCrowd.perSource} each: a bound socket takes its ephemeral ` +
      'port per source address; a fresh block n per server, clear of the last one’s TIME_WAIT), with the open-file limit of the generator and of the server raised as far as the ' +
      'hard limit allows; fewer are held when it does not allow that many (the first row says so). RSS is read after ' +
      `a warm-up burst and ${c.idleCrowd.settleMs / 1000} s of rest, and again ${c.idleCrowd.settleMs / 1000} s after opening. ` +
      `Then, after ${c.idleCrowd.quietMs / 1000} s more of rest (one-off work after the opening, such as V8's memory ` +
      `reducer collecting what the handshakes left, is behind it), ` +
      `${c.idleCrowd.heartbeatWindowMs / 1000} s with nothing published: the server’s CPU there is what keeping them ` +
      'costs — the hub writes a comment to every stream every 15 s (its default, one shared timer), Nchan is ' +
      'configured to ping every 15 s, the baseline sends nothing (Hono’s `streamSSE` has no heartbeat). Last, one ' +
      'event: from the publish request being written until the last subscriber parsed it. The generator reads every ' +
      `stream on its own core, so that time includes its share. ${TOKENS}`,
  },
} as const;

/** Notes under a crowd table: failures, caps, contention. */
export function crowdNotes(name: string, r: ScenarioResult): string[] {
  const notes: string[] = [];
  if (r.kind === 'connect-storm' && r.storm.firstFailure) {
    notes.push(`- \`${name}\`: ${r.storm.failed} streams failed to open, first: ${r.storm.firstFailure}`);
  }
  if (r.kind === 'reconnect-storm' && r.storm.firstFailure) {
    notes.push(`- \`${name}\`: first failed reconnection attempt: ${r.storm.firstFailure}`);
  }
  if (r.kind === 'idle-crowd') {
    const c = r.crowd;
    if (c.connections < c.asked) {
      notes.push(
        `- \`${name}\`: **${int(c.connections)} held, not ${int(c.asked)}: the open-file limit here is ` +
          `${int(c.openFileLimit)}** for the generator and for each server (\`ulimit -Hn\`; raising it needs ` +
          'CAP_SYS_RESOURCE), and both hold one descriptor per subscriber.',
      );
    }
    const wait = Math.max(...[c.serverWaitPercent, c.generatorWaitPercent].filter((n) => Number.isFinite(n)));
    if (wait > CONTENDED_PERCENT) {
      notes.push(
        `- \`${name}\`: **contended: kept waiting for a core ${wait.toFixed(0)} % of the heartbeat window.**`,
      );
    }
  }
  if (r.kind === 'connect-storm' && r.storm.generatorCpuPercent >= GENERATOR_BUSY_PERCENT) {
    notes.push(
      `- \`${name}\`: **the generator used ${r.storm.generatorCpuPercent.toFixed(0)} % of its core until all were ` +
        'open — it, not the server, may be what the time measures.**',
    );
  }
  if (r.kind === 'connect-storm' && r.storm.serverWaitPercent > CONTENDED_PERCENT) {
    notes.push(
      `- \`${name}\`: **contended: the server was kept waiting for its core ${r.storm.serverWaitPercent.toFixed(0)} % ` +
        'of the storm.**',
    );
  }
  return notes;
}
