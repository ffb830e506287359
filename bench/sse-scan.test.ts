/** The scanner hands a resuming subscriber the ids EventSource would keep, and nothing else. */
import { describe, expect, it } from 'vitest';
import { SseScanner } from './sse-scan.ts';

function scan(chunks: string[]) {
  const data: string[] = [];
  const fields: string[] = [];
  const scanner = new SseScanner(
    (buf, start, end) => data.push(buf.toString('latin1', start, end)),
    (name, value) => fields.push(`${name}=${value}`),
  );
  for (const chunk of chunks) {
    const buf = Buffer.from(chunk, 'latin1');
    scanner.push(buf, 0, buf.length);
  }
  return { data, fields, scanner };
}

describe('SseScanner fields', () => {
  it('commits an id when its event is dispatched, retry at once', () => {
    const { data, fields } = scan(['retry: 2000\n\n', 'id: a\ndata: one\n\n', 'data: two\nid:b\n\n']);
    expect(data).toEqual(['one', 'two']);
    expect(fields).toEqual(['retry=2000', 'id=a', 'id=b']);
  });

  it('does not commit the id of an event cut off mid-way, even across reads', () => {
    const { data, fields, scanner } = scan([
      'id: 1796447576:0\ndata: x\n\n',
      'id: 1796447576:1\nda',
      'ta: y\n',
    ]);
    expect(data).toEqual(['x']);
    expect(fields).toEqual(['id=1796447576:0']);
    // The connection drops: the partial event is forgotten, its id never counts.
    scanner.reset();
    const buf = Buffer.from('\n: hi\n\n', 'latin1');
    scanner.push(buf, 0, buf.length);
    expect(fields).toEqual(['id=1796447576:0']);
  });

  it('counts keep-alives once: comment lines, whether or not they end an event, and data-less events', () => {
    // The hub's keep-alive is a bare `:` line, which ends no event: it stays in the carried bytes.
    // Nchan's is `event: ping` and a blank line, after a first `: hi`.
    const { scanner } = scan([
      ': hi\n\n',
      ':\n',
      ':\n',
      'data: x\n\n',
      'event: ping\n\n',
      'event: ping\n',
      '\n',
    ]);
    expect(scanner.keepAlives).toBe(5);
  });

  it('reads ids split across reads once', () => {
    const { fields } = scan(['i', 'd: ab', 'c\nda', 'ta: z\n', '\n']);
    expect(fields).toEqual(['id=abc']);
  });
});
