/**
 * A `Headers` kept as one flat list of lower-case names and values, for the Node fast path: the header
 * fields of a request head it parsed, and the headers an event stream's response starts with. It
 * behaves as `Headers` does — names checked and lower-cased, values checked and trimmed, repeated
 * fields combined (`, `, or `; ` for `cookie`), `set-cookie` kept apart, iteration sorted by name — but
 * without the conversions undici's `Headers` runs on every call: a new subscription reads three
 * request headers and gets four response headers written, which cost it about 10 µs through undici's
 * `Headers` in the connect-storm profile. `instanceof Headers` holds, and `new Headers(h)`,
 * `new Request(url, { headers: h })` and `new Response(body, { headers: h })` copy it by iterating it.
 */

/** tchar of RFC 9110, as a table over ASCII. */
const TOKEN = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") {
  TOKEN[c.charCodeAt(0)] = 1;
}

function checkedName(name: string, method: string): string {
  const text = String(name);
  if (text.length === 0) throw new TypeError(`Headers.${method}: "" is an invalid header name.`);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 128 || TOKEN[c] === 0) {
      throw new TypeError(`Headers.${method}: "${text}" is an invalid header name.`);
    }
  }
  return text.toLowerCase();
}

/** Leading and trailing HTTP whitespace (tab, LF, CR, space). */
const EDGES = /^[\t\n\r ]+|[\t\n\r ]+$/g;

function checkedValue(value: string, method: string): string {
  const text = String(value).replace(EDGES, '');
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0 || c === 0x0a || c === 0x0d || c > 0xff) {
      throw new TypeError(`Headers.${method}: "${text}" is an invalid header value.`);
    }
  }
  return text;
}

export class FieldHeaders extends Headers {
  /** Names (lower case) and values, alternating, in the order they were added. */
  readonly #fields: string[];

  /**
   * @param fields lower-case names and values, alternating, already valid (as the fast path's request
   *   parser leaves them); the list is kept, not copied.
   */
  constructor(fields: string[] = []) {
    super();
    this.#fields = fields;
  }

  /** A response's starting headers, from a record; names and values are checked as `append` does. */
  static of(record: Readonly<Record<string, string>>): FieldHeaders {
    const headers = new FieldHeaders();
    for (const name in record) headers.append(name, record[name]!);
    return headers;
  }

  override append(name: string, value: string): void {
    this.#fields.push(checkedName(name, 'append'), checkedValue(value, 'append'));
  }

  override set(name: string, value: string): void {
    const key = checkedName(name, 'set');
    const text = checkedValue(value, 'set');
    const fields = this.#fields;
    let first = -1;
    for (let i = 0; i < fields.length; i += 2) {
      if (fields[i] !== key) continue;
      if (first === -1) {
        first = i;
        fields[i + 1] = text;
      } else {
        fields.splice(i, 2);
        i -= 2;
      }
    }
    if (first === -1) fields.push(key, text);
  }

  override delete(name: string): void {
    const key = checkedName(name, 'delete');
    const fields = this.#fields;
    for (let i = fields.length - 2; i >= 0; i -= 2) if (fields[i] === key) fields.splice(i, 2);
  }

  override get(name: string): string | null {
    const key = checkedName(name, 'get');
    const fields = this.#fields;
    let value: string | null = null;
    for (let i = 0; i < fields.length; i += 2) {
      if (fields[i] !== key) continue;
      value = value === null ? fields[i + 1]! : `${value}${key === 'cookie' ? '; ' : ', '}${fields[i + 1]}`;
    }
    return value;
  }

  override has(name: string): boolean {
    const key = checkedName(name, 'has');
    const fields = this.#fields;
    for (let i = 0; i < fields.length; i += 2) if (fields[i] === key) return true;
    return false;
  }

  override getSetCookie(): string[] {
    const fields = this.#fields;
    const values: string[] = [];
    for (let i = 0; i < fields.length; i += 2) if (fields[i] === 'set-cookie') values.push(fields[i + 1]!);
    return values;
  }

  /**
   * The fields as lines of an HTTP/1.1 head (`name: value\r\n`), in the order they were added, each
   * as it was added: what a repeated field means is the same on one line or several (RFC 9110 §5.3),
   * and nothing is sorted or combined to write them.
   */
  lines(): string {
    const fields = this.#fields;
    let text = '';
    for (let i = 0; i < fields.length; i += 2) text += `${fields[i]}: ${fields[i + 1]}\r\n`;
    return text;
  }

  /** The pairs `Headers` iterates: sorted by name, each `set-cookie` apart, other names combined. */
  #pairs(): [string, string][] {
    const fields = this.#fields;
    const names: string[] = [];
    for (let i = 0; i < fields.length; i += 2) if (!names.includes(fields[i]!)) names.push(fields[i]!);
    names.sort();
    const pairs: [string, string][] = [];
    for (const name of names) {
      if (name === 'set-cookie') for (const value of this.getSetCookie()) pairs.push([name, value]);
      else pairs.push([name, this.get(name)!]);
    }
    return pairs;
  }

  override forEach(
    callback: (value: string, name: string, parent: Headers) => void,
    thisArg?: unknown,
  ): void {
    for (const [name, value] of this.#pairs()) callback.call(thisArg, value, name, this);
  }

  override entries(): HeadersIterator<[string, string]> {
    return this.#pairs()[Symbol.iterator]() as HeadersIterator<[string, string]>;
  }

  override keys(): HeadersIterator<string> {
    return this.#pairs()
      .map(([name]) => name)
      [Symbol.iterator]() as HeadersIterator<string>;
  }

  override values(): HeadersIterator<string> {
    return this.#pairs()
      .map(([, value]) => value)
      [Symbol.iterator]() as HeadersIterator<string>;
  }

  override [Symbol.iterator](): HeadersIterator<[string, string]> {
    return this.entries();
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `Headers ${JSON.stringify(Object.fromEntries(this.#pairs()))}`;
  }
}
