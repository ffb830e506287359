import { describe, expect, it } from 'vitest';
import { type CloseReason, EventStream } from './stream.ts';

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (chunk: Uint8Array | undefined) => new TextDecoder().decode(chunk);

function tracked(options: ConstructorParameters<typeof EventStream>[0] = {}) {
  const reasons: CloseReason[] = [];
  const stream = new EventStream({ ...options, onClose: (reason) => reasons.push(reason) });
  return { stream, reasons, reader: stream.readable.getReader() };
}

describe('EventStream default sink (ReadableStream)', () => {
  it('hands everything queued since the last read over in one chunk, in order', async () => {
    const { stream, reader } = tracked();
    stream.write(bytes('a'));
    expect(text((await reader.read()).value)).toBe('a');
    stream.write(bytes('b'));
    stream.write(bytes('c'));
    expect(stream.buffered).toBe(2);
    expect(text((await reader.read()).value)).toBe('bc');
    expect(stream.buffered).toBe(0);
  });

  it('delivers a write straight to a reader that is already waiting', async () => {
    const { stream, reader } = tracked();
    const first = reader.read();
    await Promise.resolve();
    stream.write(bytes('now'));
    expect(text((await first).value)).toBe('now');
    const second = reader.read();
    stream.write(bytes('next'));
    expect(text((await second).value)).toBe('next');
  });

  it('closes a consumer that stops reading once the backlog passes the bound, cleanly and without the backlog', async () => {
    const { stream, reasons, reader } = tracked({ maxQueueBytes: 10 });
    stream.write(bytes('taken'));
    expect(text((await reader.read()).value)).toBe('taken');
    expect(stream.write(bytes('123456'))).toBe(true);
    expect(stream.write(bytes('789012'))).toBe(false);
    expect(reasons).toEqual(['slow']);
    // The queued frames were dropped: the next read is the end of the stream, not an error.
    expect(await reader.read()).toEqual({ done: true, value: undefined });
    expect(stream.write(bytes('late'))).toBe(false);
  });

  it('sends what is queued before a server close', async () => {
    const { stream, reasons, reader } = tracked();
    stream.write(bytes('x'));
    stream.write(bytes('y'));
    stream.close('server');
    expect(text((await reader.read()).value)).toBe('xy');
    expect((await reader.read()).done).toBe(true);
    expect(reasons).toEqual(['server']);
  });

  it('reports a consumer that cancels as a client close, once', async () => {
    const { stream, reasons, reader } = tracked();
    stream.write(bytes('x'));
    await reader.cancel();
    stream.close('server');
    expect(reasons).toEqual(['client']);
    expect(stream.write(bytes('after'))).toBe(false);
  });

  it('bounds writes made before anyone reads, too', () => {
    const { stream, reasons } = tracked({ maxQueueBytes: 4 });
    stream.write(bytes('1234'));
    stream.write(bytes('5'));
    expect(reasons).toEqual(['slow']);
  });
});
