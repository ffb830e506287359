import { describe, expect, it } from 'vitest';
import { mergeLanes } from './broker.ts';
import { decodeEntry, encodeEntry, generatedId, hasPublisherId, type RawEntry, streamIdOf } from './codec.ts';

describe('redis entry codec', () => {
  it('round-trips every field, and keeps publisher ids apart from hub-generated ones', () => {
    const input = { topics: ['/a', 'urn:b'], data: 'x\ny', private: true, type: 't', retry: 5, id: 'mine' };
    const fields = encodeEntry(input);
    expect(decodeEntry('5-1', fields)).toEqual({ ...input, pos: '5-1' });
    expect(hasPublisherId(['5-1', fields])).toBe(true);
    const bare = encodeEntry({ topics: ['/a'], data: '', private: false });
    expect(decodeEntry('7-0', bare)).toEqual({
      topics: ['/a'],
      data: '',
      private: false,
      id: '#7-0',
      pos: '7-0',
    });
    expect(hasPublisherId(['7-0', bare])).toBe(false);
  });

  it('maps hub-generated ids to stream ids and refuses anything else', () => {
    expect(streamIdOf(generatedId('1764086400000-3'))).toBe('1764086400000-3');
    for (const id of ['1-0', '#1', '#a-0', '#1-0x', '# 1-0', '#-', '#99999999999999999999-0']) {
      expect(streamIdOf(id), id).toBeUndefined();
    }
    expect(streamIdOf('#18446744073709551615-18446744073709551615')).toBe(
      '18446744073709551615-18446744073709551615',
    );
  });

  it('skips entries it did not write', () => {
    expect(decodeEntry('1-0', ['other', 'field'])).toBeUndefined();
    expect(decodeEntry('1-0', ['u', 'not json'])).toBeUndefined();
    expect(decodeEntry('1-0', ['u', '{"d":"no topics"}'])).toBeUndefined();
  });
});

describe('merging lanes read together', () => {
  const e = (sid: string): RawEntry => [sid, []];
  it('delivers everything in order when no lane filled its batch', () => {
    const { entries, through } = mergeLanes([[e('1-0'), e('3-0')], [e('2-0')]], 3);
    expect(entries.map(([sid]) => sid)).toEqual(['1-0', '2-0', '3-0']);
    expect(through).toEqual(['3-0', '2-0']);
  });
  it('holds back what may come after a lane that filled its batch', () => {
    // The first lane returned a full batch: it may have 4-0 and 5-0 unread, so 6-0 must wait.
    const { entries, through } = mergeLanes(
      [
        [e('1-0'), e('3-0')],
        [e('2-0'), e('6-0')],
      ],
      2,
    );
    expect(entries.map(([sid]) => sid)).toEqual(['1-0', '2-0', '3-0']);
    expect(through).toEqual(['3-0', '2-0']);
  });
  it('reads nothing from a lane with nothing to deliver', () => {
    expect(mergeLanes([[], [e('5-1')]], 10).through).toEqual([undefined, '5-1']);
  });
});
