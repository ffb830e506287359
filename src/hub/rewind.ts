/**
 * The `rewind=N` subscribe extension: a new subscriber gets the last N updates it would have received
 * (its matchers, its token), oldest first, then goes live with no gap and no duplicate at the seam.
 * The parameter is outside Mercure's reserved `match*` space, and hubs without the extension ignore
 * it, as Mercure says of unknown parameters. A cursor (`Last-Event-ID`) wins: rewind is then ignored.
 * See docs/history.md ("Rewind (extension)") and docs/security.md for its cost bound.
 */
import type { Broker, HistoryPage, Update } from '../brokers/index.ts';
import { type Dispatcher, frameOf, type Subscriber } from './dispatcher.ts';
import { badRequest } from './errors.ts';
import type { FormFields } from './form.ts';
import { replayWriter } from './replay-writer.ts';

/** The query parameter. */
export const REWIND_PARAM = 'rewind';

/**
 * Most retained updates one rewind of N reads, looking for the N its subscriber would receive:
 * `max(N × REWIND_SCAN_FACTOR, REWIND_MIN_SCAN)` (1,000 for the default `SSEHUB_MAX_REWIND` of 100).
 * A subscriber whose topics are rarer than that in recent history gets fewer than N. This bounds what
 * one anonymous request makes the hub read, however long the history.
 */
export const REWIND_SCAN_FACTOR = 10;
export const REWIND_MIN_SCAN = 1000;
/** Updates read from history at a time: the first page (grown four times a page), and the most. */
const FIRST_PAGE = 32;
const MAX_PAGE = 256;

/** What one rewind of `count` updates may read at most. */
export const rewindScanBound = (count: number): number =>
  Math.max(count * REWIND_SCAN_FACTOR, REWIND_MIN_SCAN);

/**
 * The N of a `rewind=N` query parameter: undefined when it is absent or the extension is off (`max`
 * 0: the parameter is ignored, as on a hub without it).
 * @throws {HubError} 400 unless it is given once, as ASCII digits, with a value from 1 to `max`.
 */
export function parseRewind(query: FormFields, max: number): number | undefined {
  if (max <= 0) return undefined;
  let raw: string | undefined;
  for (const [name, value] of query) {
    if (name !== REWIND_PARAM) continue;
    if (raw !== undefined) throw badRequest('rewind given more than once');
    raw = value;
  }
  if (raw === undefined) return undefined;
  const count = /^[0-9]{1,16}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(count >= 1 && count <= max)) {
    throw badRequest(`rewind must be a whole number of updates from 1 to ${max}`);
  }
  return count;
}

/** The first page of a rewind: read before the response, so that a broker away is a 503. */
export function firstRewindPage(broker: Broker, count: number): Promise<HistoryPage> {
  return broker.historyBefore(undefined, Math.min(FIRST_PAGE, rewindScanBound(count)));
}

/**
 * Sends the last `count` updates `subscriber` would have received, oldest first, then what arrived
 * live meanwhile, and goes live. The subscriber was registered with its live updates kept aside
 * (`pending`) before `first` was read, so every update is either in history at or before the newest
 * one read (the rewind considers it; live copies of it are dropped) or after it (delivered live).
 * Runs after the response is returned; a failure ends the stream (the client resumes from its last id).
 */
export async function rewindHistory(
  broker: Broker,
  dispatcher: Dispatcher,
  subscriber: Subscriber,
  first: HistoryPage,
  count: number,
): Promise<void> {
  const { stream } = subscriber;
  try {
    const newest = first.updates[0];
    if (newest) subscriber.replayed(newest.pos);
    const bound = rewindScanBound(count);
    const picked: Update[] = [];
    let page = first;
    let scanned = 0;
    let limit = page.updates.length;
    for (;;) {
      for (const update of page.updates) {
        scanned++;
        if (subscriber.canRead(update) && subscriber.matches(update.topics)) picked.push(update);
        if (picked.length === count) break;
      }
      const oldest = page.updates.at(-1);
      if (picked.length === count || !page.more || !oldest || scanned >= bound || stream.closed) break;
      limit = Math.min(MAX_PAGE, limit * 4, bound - scanned);
      page = await broker.historyBefore(oldest.pos, limit);
    }
    const writer = replayWriter(stream, dispatcher.metrics);
    for (let i = picked.length - 1; i >= 0; i--) {
      if (stream.closed) return;
      await writer.add(frameOf(picked[i]!));
    }
    await writer.flush();
    if (!stream.closed) dispatcher.goLive(subscriber);
  } catch (error) {
    console.error('ssehub: rewind failed', error);
    stream.close('server');
  }
}
