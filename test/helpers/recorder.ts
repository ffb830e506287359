/** Records everything a client {@link Subscription} reports, and waits for what a test expects. */
import type {
  CloseInfo,
  ErrorInfo,
  GapInfo,
  OpenInfo,
  ReconnectInfo,
  SseMessage,
  Subscription,
} from '../../src/client/index.ts';

export interface Recording {
  /** Every SSE event (any type), in order. */
  readonly messages: SseMessage[];
  readonly opens: Array<OpenInfo & { at: number }>;
  readonly gaps: GapInfo[];
  readonly errors: ErrorInfo[];
  readonly reconnects: Array<ReconnectInfo & { at: number }>;
  readonly closes: CloseInfo[];
  /** Message ids (`lastEventId`) in order. */
  ids(): string[];
  /** Resolves once `predicate` holds (checked after every event); rejects after `timeoutMs`. */
  until(predicate: (r: Recording) => boolean, what: string, timeoutMs?: number): Promise<void>;
}

export function record(subscription: Subscription): Recording {
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const w of [...waiters]) w();
  };
  const recording: Recording = {
    messages: [],
    opens: [],
    gaps: [],
    errors: [],
    reconnects: [],
    closes: [],
    ids: () => recording.messages.map((m) => m.lastEventId),
    until(predicate, what, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!predicate(recording)) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          const summary = JSON.stringify({
            ids: recording.ids(),
            opens: recording.opens.length,
            gaps: recording.gaps,
            errors: recording.errors.map((e) => `${e.error.code} ${e.error.status ?? ''} ${e.error.message}`),
            reconnects: recording.reconnects.map((r) => [r.attempt, r.delay]),
            closes: recording.closes.map((c) => c.reason),
          });
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${summary}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
  };
  subscription.on('*', (m) => {
    recording.messages.push(m);
    notify();
  });
  subscription.on('open', (info) => {
    recording.opens.push({ ...info, at: Date.now() });
    notify();
  });
  subscription.on('gap', (info) => {
    recording.gaps.push(info);
    notify();
  });
  subscription.on('error', (info) => {
    recording.errors.push(info);
    notify();
  });
  subscription.on('reconnecting', (info) => {
    recording.reconnects.push({ ...info, at: Date.now() });
    notify();
  });
  subscription.on('close', (info) => {
    recording.closes.push(info);
    notify();
  });
  return recording;
}
