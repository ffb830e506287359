import { describe, expect, it } from 'vitest';
import { FieldHeaders } from './field-headers.ts';

/** Runs the same calls on undici's Headers and on FieldHeaders; every observable result must agree. */
function both(steps: (h: Headers) => unknown[]): void {
  const reference = steps(new Headers());
  const ours = steps(new FieldHeaders());
  expect(ours).toEqual(reference);
}

const view = (h: Headers) => {
  const forEach: [string, string][] = [];
  h.forEach((value, name, parent) => {
    expect(parent).toBe(h);
    forEach.push([name, value]);
  });
  return [[...h], [...h.entries()], [...h.keys()], [...h.values()], forEach, h.getSetCookie()];
};

const thrown = (f: () => unknown): string => {
  try {
    f();
    return 'no error';
  } catch (error) {
    return error instanceof TypeError ? 'TypeError' : 'other';
  }
};

describe('FieldHeaders behaves as Headers', () => {
  it('combines repeated fields, cookie with "; ", set-cookie apart, iterating sorted by name', () => {
    both((h) => {
      h.append('Vary', 'Origin');
      h.append('content-type', 'text/event-stream');
      h.append('vary', 'Accept');
      h.append('Cookie', 'a=1');
      h.append('cookie', 'b=2');
      h.append('Set-Cookie', 'x=1');
      h.append('set-cookie', 'y=2');
      h.append('a-first', 'one');
      return [
        h.get('VARY'),
        h.get('cookie'),
        h.get('set-cookie'),
        h.get('missing'),
        h.has('A-FIRST'),
        ...view(h),
      ];
    });
  });

  it('set replaces every earlier value of the name; delete removes them all', () => {
    both((h) => {
      h.append('x', '1');
      h.append('y', '2');
      h.append('x', '3');
      h.set('X', '4');
      h.set('z', '5');
      h.append('w', '6');
      h.append('w', '7');
      h.delete('W');
      h.delete('absent');
      return [h.get('x'), h.has('w'), ...view(h)];
    });
  });

  it('trims values and refuses bad names and values with a TypeError', () => {
    both((h) => {
      h.append('padded', ' \t value \r\n');
      h.set('inner', 'a \t b');
      return [
        h.get('padded'),
        h.get('inner'),
        thrown(() => h.append('bad name', 'x')),
        thrown(() => h.append('', 'x')),
        thrown(() => h.append('é', 'x')),
        thrown(() => h.append('ok', 'line\nbreak')),
        thrown(() => h.append('ok', 'nul\0')),
        thrown(() => h.set('ok', 'cr\rhere')),
        thrown(() => h.get('bad name')),
        thrown(() => h.has('(')),
        thrown(() => h.delete('a:b')),
        ...view(h),
      ];
    });
  });

  it('keeps the fields it was given as they are, and copies into Request, Response and Headers', () => {
    const fields = ['host', 'hub.example', 'accept', 'text/event-stream', 'x-many', 'a', 'x-many', 'b'];
    const h = new FieldHeaders(fields);
    expect(h).toBeInstanceOf(Headers);
    expect(h.get('Host')).toBe('hub.example');
    expect(h.get('x-many')).toBe('a, b');
    const expected = [
      ['accept', 'text/event-stream'],
      ['host', 'hub.example'],
      ['x-many', 'a, b'],
    ];
    expect([...new Headers(h)]).toEqual(expected);
    expect([...new Response(null, { headers: h }).headers]).toEqual(expected);
    expect([...new Request('http://hub.example/', { headers: h }).headers]).toEqual(expected);
    h.append('x-added', 'c');
    expect(fields.slice(-2)).toEqual(['x-added', 'c']);
  });

  it('builds from a record, checking it as append does', () => {
    expect([
      ...FieldHeaders.of({ 'Content-Type': 'text/event-stream', 'cache-control': 'no-cache' }),
    ]).toEqual([
      ['cache-control', 'no-cache'],
      ['content-type', 'text/event-stream'],
    ]);
    expect(() => FieldHeaders.of({ 'bad name': 'x' })).toThrow(TypeError);
  });
});

describe('FieldHeaders as head lines', () => {
  it('writes each field as added, in order, repeats on lines of their own, after set and delete', () => {
    const h = FieldHeaders.of({ 'X-B': '2', vary: 'Origin' });
    h.append('vary', 'Accept');
    h.append('set-cookie', 'a=1');
    h.append('set-cookie', 'b=2');
    expect(h.lines()).toBe(
      'x-b: 2\r\nvary: Origin\r\nvary: Accept\r\nset-cookie: a=1\r\nset-cookie: b=2\r\n',
    );
    h.set('vary', '*');
    h.delete('x-b');
    expect(h.lines()).toBe('vary: *\r\nset-cookie: a=1\r\nset-cookie: b=2\r\n');
    expect(new FieldHeaders().lines()).toBe('');
  });
});
