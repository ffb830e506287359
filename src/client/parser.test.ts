/**
 * The client's event-stream parser: WHATWG cases, agreement with the independent `eventsource-parser`
 * on random streams cut at random places, and a byte-level round trip through the hub's own encoder.
 */
import { createParser } from 'eventsource-parser';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeEvent, type SseEvent } from '../sse/index.ts';
import { createEventStreamParser, type SseMessage } from './parser.ts';

function parse(chunks: readonly string[], lastEventId?: string) {
  const messages: SseMessage[] = [];
  const retries: number[] = [];
  const comments: string[] = [];
  const parser = createEventStreamParser(
    {
      onEvent: (m) => messages.push(m),
      onRetry: (ms) => retries.push(ms),
      onComment: (c) => comments.push(c),
    },
    lastEventId,
  );
  for (const chunk of chunks) parser.feed(chunk);
  return { messages, retries, comments, lastEventId: parser.lastEventId };
}

/** Cuts `text` at the given (sorted, deduplicated) offsets. */
function cut(text: string, offsets: number[]): string[] {
  const points = [...new Set(offsets.map((o) => o % (text.length + 1)))].sort((a, b) => a - b);
  const chunks: string[] = [];
  let start = 0;
  for (const point of points) {
    chunks.push(text.slice(start, point));
    start = point;
  }
  chunks.push(text.slice(start));
  return chunks;
}

describe('event-stream parser', () => {
  it('follows the WHATWG examples and rules', () => {
    const { messages, retries, comments, lastEventId } = parse([
      ': test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n',
      'data\n\ndata\ndata\n\ndata:\n\nevent: add\ndata: 73857293\n\nevent:\ndata: typed empty\n\n',
      'retry: 15x\nretry: 250\nfoo: bar\nid: with\0nul\ndata: x\n\nid: no-data\n\n',
    ]);
    expect(messages).toEqual([
      { type: 'message', data: 'first event', lastEventId: '1' },
      { type: 'message', data: 'second event', lastEventId: '' },
      { type: 'message', data: ' third event', lastEventId: '' },
      { type: 'message', data: '', lastEventId: '' },
      { type: 'message', data: '\n', lastEventId: '' },
      { type: 'message', data: '', lastEventId: '' },
      { type: 'add', data: '73857293', lastEventId: '' },
      { type: 'message', data: 'typed empty', lastEventId: '' },
      { type: 'message', data: 'x', lastEventId: '' },
    ]);
    expect(retries).toEqual([250]);
    expect(comments).toEqual(['test stream']);
    // A blank line commits the id even when no event is dispatched.
    expect(lastEventId).toBe('no-data');
  });

  it('keeps the seeded id for events without id: and drops an unterminated event', () => {
    const result = parse(['data: a\n\nid: 2\ndata: b\n\ndata: c'], 'resumed-from');
    expect(result.messages.map((m) => m.lastEventId)).toEqual(['resumed-from', '2']);
    expect(result.lastEventId).toBe('2');
  });

  it('treats CR, LF and CRLF alike, including a CRLF split across chunks', () => {
    for (const chunks of [
      ['data: a\r', '\ndata: b\r\n\r\n'],
      ['data: a\r\ndata: b\r', '\r'],
      ['data: a\rdata: b\n\n'],
    ]) {
      expect(parse(chunks).messages).toEqual([{ type: 'message', data: 'a\nb', lastEventId: '' }]);
    }
    // An LF after a CR-terminated chunk ends a line only once, even if the next chunk is empty first.
    expect(parse(['data: a\r', '', '\n', '\n']).messages.map((m) => m.data)).toEqual(['a']);
  });

  it('agrees with eventsource-parser on random streams cut at random places', () => {
    const piece = fc.constantFrom(
      'data',
      'data:',
      'data: ',
      'event:',
      'event: e',
      'id:',
      'id: 7',
      'retry:',
      'retry: 42',
      'retry: 4x',
      ':',
      ': hi',
      ' ',
      'x',
      'é',
      '😀',
      '\0',
      ':',
      'other',
      '\r',
      '\n',
      '\r\n',
      '\n\n',
    );
    fc.assert(
      fc.property(
        fc.array(piece, { maxLength: 60 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        (pieces, offsets) => {
          // A final LF completes a trailing CR the same way in both (the oracle holds a lone CR back).
          const text = `${pieces.join('')}\n`;
          const oracle: Array<{ type: string; data: string; id?: string }> = [];
          const oracleRetries: number[] = [];
          const reference = createParser({
            onEvent: (e) => oracle.push({ type: e.event ?? 'message', data: e.data, id: e.id }),
            onRetry: (ms) => oracleRetries.push(ms),
          });
          const chunks = cut(text, offsets);
          for (const chunk of chunks) reference.feed(chunk);
          const ours = parse(chunks);
          expect(ours.messages.map(({ type, data }) => ({ type, data }))).toEqual(
            oracle.map(({ type, data }) => ({ type, data })),
          );
          // The oracle reports an id only for the event that carried it; ours is the id in force.
          ours.messages.forEach((m, i) => {
            const id = oracle[i]!.id;
            if (id !== undefined) expect(m.lastEventId).toBe(id);
          });
          expect(ours.retries).toEqual(oracleRetries);
          // Where the stream is cut never changes anything, the persistent id included.
          expect(ours).toEqual(parse([text]));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('round-trips the hub encoder through UTF-8 bytes cut anywhere, even inside a character', () => {
    const field = fc.string({ unit: 'grapheme' }).map((s) => s.replace(/[\r\n\0]/g, '_'));
    const event = fc.record(
      { data: fc.string({ unit: 'grapheme' }), event: field, id: field, retry: fc.nat() },
      { requiredKeys: ['data'] },
    );
    fc.assert(
      fc.property(
        fc.array(event, { maxLength: 10 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (events, offsets) => {
          const bytes = new TextEncoder().encode(events.map((e: SseEvent) => encodeEvent(e)).join(''));
          const points = [...new Set(offsets.map((o) => o % (bytes.length + 1)))].sort((a, b) => a - b);
          const decoder = new TextDecoder();
          const messages: SseMessage[] = [];
          const retries: number[] = [];
          const parser = createEventStreamParser({
            onEvent: (m) => messages.push(m),
            onRetry: (r) => retries.push(r),
          });
          let start = 0;
          for (const point of [...points, bytes.length]) {
            parser.feed(decoder.decode(bytes.subarray(start, point), { stream: true }));
            start = point;
          }
          parser.feed(decoder.decode());
          let id = '';
          const expected = events.map((e) => {
            if (e.id !== undefined) id = e.id;
            return { type: e.event || 'message', data: e.data.replace(/\r\n|\r/g, '\n'), lastEventId: id };
          });
          expect(messages).toEqual(expected);
          expect(retries).toEqual(events.flatMap((e) => (e.retry === undefined ? [] : [e.retry])));
        },
      ),
      { numRuns: 1000 },
    );
  });
});
