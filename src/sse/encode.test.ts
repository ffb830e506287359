import { createParser, type EventSourceMessage } from 'eventsource-parser';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeComment, encodeEvent, encodeRetry, type SseEvent } from './encode.ts';
import { SseError } from './errors.ts';

/** Feeds `bytes` to the independent parser in the given chunks, decoding UTF-8 across chunk edges. */
function parse(bytes: Uint8Array, cuts: number[]) {
  const events: EventSourceMessage[] = [];
  const retries: number[] = [];
  const comments: string[] = [];
  const parser = createParser({
    onEvent: (e) => events.push(e),
    onRetry: (r) => retries.push(r),
    onComment: (c) => comments.push(c),
  });
  const decoder = new TextDecoder();
  let start = 0;
  for (const cut of [...new Set(cuts)].sort((a, b) => a - b)) {
    if (cut <= start || cut >= bytes.length) continue;
    parser.feed(decoder.decode(bytes.subarray(start, cut), { stream: true }));
    start = cut;
  }
  parser.feed(decoder.decode(bytes.subarray(start)));
  return { events, retries, comments };
}

const text = fc.string({ unit: 'binary', maxLength: 60 });
/** Field values that may not contain CR, LF or NUL. */
const field = text.map((s) => s.replace(/[\r\n\0]/g, '_'));
/** Data with every kind of line break, multibyte text, and leading spaces/colons. */
const data = fc
  .array(fc.oneof(text, fc.constantFrom('\r', '\n', '\r\n', ' ', ':', 'é', '世', '🎉', 'data: x')), {
    maxLength: 12,
  })
  .map((parts) => parts.join(''));
const event: fc.Arbitrary<SseEvent> = fc.record(
  {
    id: field,
    event: field.filter((e) => e !== ''),
    retry: fc.nat(),
    data,
  },
  { requiredKeys: ['data'] },
);

describe('encodeEvent', () => {
  it('writes the documented wire format', () => {
    expect(encodeEvent({ id: '1', event: 'greeting', data: 'hello\nworld' })).toBe(
      'id: 1\nevent: greeting\ndata: hello\ndata: world\n\n',
    );
    expect(encodeEvent({ data: 'a\r\nb\rc' })).toBe('data: a\ndata: b\ndata: c\n\n');
    expect(encodeEvent({ data: ' leading' })).toBe('data:  leading\n\n');
    expect(encodeEvent({ retry: 10, data: 'x' })).toBe('retry: 10\ndata: x\n\n');
    expect(encodeEvent({ comment: 'hi', data: 'x' })).toBe(': hi\ndata: x\n\n');
  });

  it('round-trips through an independent parser under random chunking (property)', () => {
    fc.assert(
      fc.property(fc.array(event, { minLength: 1, maxLength: 8 }), fc.array(fc.nat(4000)), (events, cuts) => {
        const bytes = new TextEncoder().encode(events.map(encodeEvent).join(''));
        const parsed = parse(bytes, cuts);
        // What the client sees: every line break becomes LF (a `data:` line, even empty, dispatches).
        const expected = events.map((e) => ({
          data: e.data!.replace(/\r\n|\r/g, '\n'),
          event: e.event,
          id: e.id,
        }));
        expect(parsed.events.map((e) => ({ data: e.data, event: e.event, id: e.id }))).toEqual(expected);
        expect(parsed.retries).toEqual(events.filter((e) => e.retry !== undefined).map((e) => e.retry));
      }),
      { numRuns: 500 },
    );
  });

  it('dispatches an event with empty data (a `data:` line is present)', () => {
    const bytes = new TextEncoder().encode(encodeEvent({ id: 'a', data: '' }));
    expect(parse(bytes, []).events).toEqual([{ data: '', event: undefined, id: 'a' }]);
  });

  it.each([
    ['id', { id: 'a\nb', data: '' }],
    ['id', { id: 'a\rb', data: '' }],
    ['id', { id: 'a\0b', data: '' }],
    ['event', { event: 'a\nb', data: '' }],
    ['event', { event: 'a\0b', data: '' }],
    ['retry', { retry: -1, data: '' }],
    ['retry', { retry: 1.5, data: '' }],
    ['retry', { retry: Number.NaN, data: '' }],
  ])('refuses an unencodable %s', (_, e) => {
    expect(() => encodeEvent(e as SseEvent)).toThrow(SseError);
    try {
      encodeEvent(e as SseEvent);
    } catch (error) {
      expect((error as SseError).code).toBe('invalid_field');
    }
  });
});

describe('encodeComment and encodeRetry', () => {
  it('never dispatches an event and splits multi-line comments', () => {
    const bytes = new TextEncoder().encode(
      `${encodeComment('one\ntwo')}${encodeRetry(3000)}${encodeComment('')}`,
    );
    const parsed = parse(bytes, []);
    expect(parsed.events).toEqual([]);
    expect(parsed.comments).toEqual(['one', 'two', '']);
    expect(parsed.retries).toEqual([3000]);
  });
});
