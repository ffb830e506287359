/**
 * Update ids in HTTP header values. Mercure ids are IRIs: any Unicode. A header value is bytes, which
 * `Headers` holds as a byte string (one char 0x00-0xFF per byte; RFC 9110 calls the bytes above 0x7F
 * obs-text, legal in field values and quoted-strings). Ids travel as their UTF-8 bytes, the way a
 * browser's `EventSource` sends `Last-Event-ID` back (HTML, "reestablish the connection").
 */

const utf8 = new TextEncoder();
/** Fatal: bytes that are not UTF-8 were not written by a UTF-8 client. Keeps a leading U+FEFF. */
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

const NON_ASCII = /[^\x00-\x7f]/;
const ABOVE_BYTE = /[^\x00-\xff]/;

/**
 * `text` as a header value: its UTF-8 bytes, each byte one char. ASCII is returned as it is.
 * @example toHeaderValue('urn:日本') // 'urn:\u00e6\u0097\u00a5\u00e6\u009c\u00ac'
 */
export function toHeaderValue(text: string): string {
  if (!NON_ASCII.test(text)) return text;
  let value = '';
  for (const byte of utf8.encode(text)) value += String.fromCharCode(byte);
  return value;
}

/**
 * The text a request header value carries: its bytes decoded as UTF-8 when they are UTF-8, else the
 * value unchanged (Latin-1 bytes from an old client, or a runtime that already decoded the value).
 * @example fromHeaderValue('urn:\u00e6\u0097\u00a5\u00e6\u009c\u00ac') // 'urn:日本'
 */
export function fromHeaderValue(value: string): string {
  if (!NON_ASCII.test(value) || ABOVE_BYTE.test(value)) return value;
  try {
    return strictUtf8.decode(Uint8Array.from(value, (c) => c.charCodeAt(0)));
  } catch {
    return value;
  }
}

/** How many bytes `text` takes in UTF-8: in a header value, and in a form. */
export function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // One UTF-16 unit per char: U+0080-U+07FF take 2 bytes, the rest of the BMP 3, and a surrogate
    // pair (2 units) 4. A lone surrogate becomes U+FFFD, 3 bytes.
    if (c >= 0x80) bytes += c < 0x800 ? 1 : 2;
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
  }
  return bytes;
}
