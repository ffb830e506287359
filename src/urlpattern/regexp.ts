/**
 * Parser for the regexp groups of a URL pattern (`:id(\d+)`, `(foo|bar)`), restricted to the
 * part of JavaScript's `u`-mode syntax that a finite automaton can match in linear time.
 *
 * Supported: literals, `.`, escapes (`\d \D \w \W \s \S \t \n \v \f \r \0 \cX \xHH \uHHHH
 * \u{H…}` and escaped syntax characters), classes with ranges and negation, `|`, `(?:…)`,
 * `(?<name>…)`, quantifiers `* + ? {m} {m,} {m,n}` (greedy or lazy, `n ≤ 100`). Plain `(…)`
 * parses too, though URL patterns never get here with one: the standard refuses capturing
 * groups inside a regexp group.
 * Refused: anchors, `\b \B`, lookarounds, backreferences, `\p{…}` and inline modifiers.
 *
 * The URL Pattern standard hands these groups to `RegExp` with the `u` flag, and the polyfill
 * has already checked them that way, so this parser only needs to be exact on what it accepts.
 */
import { UrlPatternError } from './error.ts';
import { alt, CharSet, charset, type Node, repeat, seq } from './syntax.ts';

/** Largest bound accepted in `{m,n}`; counted repetition is unrolled into NFA states. */
export const MAX_REPEAT = 100;

const DIGIT = new CharSet([[0x30, 0x39]]);
const WORD = new CharSet([
  [0x30, 0x39],
  [0x41, 0x5a],
  [0x5f, 0x5f],
  [0x61, 0x7a],
]);
// ECMA-262 WhiteSpace and LineTerminator, as matched by `\s`.
const SPACE = new CharSet([
  [0x09, 0x0d],
  [0x20, 0x20],
  [0xa0, 0xa0],
  [0x1680, 0x1680],
  [0x2000, 0x200a],
  [0x2028, 0x2029],
  [0x202f, 0x202f],
  [0x205f, 0x205f],
  [0x3000, 0x3000],
  [0xfeff, 0xfeff],
]);
/** `.` without the `s` flag: anything but a line terminator. */
export const DOT = CharSet.of(0x0a, 0x0d, 0x2028, 0x2029).negate();

const CLASS_ESCAPES: Record<string, CharSet> = {
  d: DIGIT,
  D: DIGIT.negate(),
  w: WORD,
  W: WORD.negate(),
  s: SPACE,
  S: SPACE.negate(),
};
const CONTROL_ESCAPES: Record<string, number> = { t: 0x09, n: 0x0a, v: 0x0b, f: 0x0c, r: 0x0d };
const SYNTAX_CHARS = '^$\\.*+?()[]{}|/';

/** Parses one regexp group body into a syntax tree, or throws `UrlPatternError`. */
export function parseRegexp(source: string): Node {
  return new RegexpParser(source).parse();
}

class RegexpParser {
  #i = 0;
  readonly #src: string;

  constructor(source: string) {
    this.#src = source;
  }

  parse(): Node {
    const node = this.#disjunction();
    if (this.#i < this.#src.length) this.#fail('unbalanced ")"');
    return node;
  }

  #fail(reason: string, code: 'malformed' | 'unsupported' = 'malformed'): never {
    throw new UrlPatternError(`Unsupported regexp group (${this.#src}): ${reason}`, code);
  }

  #peek(offset = 0): string | undefined {
    return this.#src[this.#i + offset];
  }

  #eat(text: string): boolean {
    if (!this.#src.startsWith(text, this.#i)) return false;
    this.#i += text.length;
    return true;
  }

  #disjunction(): Node {
    const options = [this.#alternative()];
    while (this.#eat('|')) options.push(this.#alternative());
    return options.length === 1 ? options[0]! : alt(...options);
  }

  #alternative(): Node {
    const items: Node[] = [];
    while (this.#i < this.#src.length && this.#peek() !== '|' && this.#peek() !== ')') {
      items.push(this.#quantified(this.#atom()));
    }
    return items.length === 1 ? items[0]! : seq(...items);
  }

  #quantified(atom: Node): Node {
    let min: number;
    let max: number;
    if (this.#eat('*')) [min, max] = [0, Number.POSITIVE_INFINITY];
    else if (this.#eat('+')) [min, max] = [1, Number.POSITIVE_INFINITY];
    else if (this.#eat('?')) [min, max] = [0, 1];
    else if (this.#peek() === '{') [min, max] = this.#braces();
    else return atom;
    // Laziness changes which match is found, not whether one exists; only a boolean is needed.
    this.#eat('?');
    return repeat(atom, min, max);
  }

  #braces(): [number, number] {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(this.#src.slice(this.#i));
    if (!m) this.#fail('lone "{"');
    this.#i += m[0].length;
    const min = Number(m[1]);
    const max = m[2] === undefined ? min : m[3] === '' ? Number.POSITIVE_INFINITY : Number(m[3]);
    if (min > max) this.#fail('numbers out of order in {} quantifier');
    if (min > MAX_REPEAT || (max !== Number.POSITIVE_INFINITY && max > MAX_REPEAT)) {
      this.#fail(`repetition counts above ${MAX_REPEAT} are not supported`, 'unsupported');
    }
    return [min, max];
  }

  #atom(): Node {
    const c = this.#peek()!;
    switch (c) {
      case '.':
        this.#i++;
        return charset(DOT);
      case '[':
        return charset(this.#class());
      case '(':
        return this.#group();
      case '\\': {
        this.#i++;
        const escaped = this.#escape(false);
        return charset(typeof escaped === 'number' ? CharSet.of(escaped) : escaped);
      }
      case '^':
      case '$':
        return this.#fail('anchors are not supported', 'unsupported');
      case '*':
      case '+':
      case '?':
      case '{':
        return this.#fail('nothing to repeat');
      case ']':
      case '}':
        return this.#fail(`lone "${c}"`);
      default:
        return charset(CharSet.of(this.#codePoint()));
    }
  }

  #codePoint(): number {
    const cp = this.#src.codePointAt(this.#i)!;
    this.#i += cp > 0xffff ? 2 : 1;
    return cp;
  }

  #group(): Node {
    this.#i++;
    if (this.#peek() === '?') {
      if (this.#eat('?:')) {
        // non-capturing
      } else if (this.#peek(1) === '<' && this.#peek(2) !== '=' && this.#peek(2) !== '!') {
        // The name was validated by `RegExp` in the polyfill, and captures are never reported.
        const m = /^\?<[^>]+>/.exec(this.#src.slice(this.#i));
        if (!m) this.#fail('invalid group name');
        this.#i += m[0].length;
      } else {
        this.#fail('lookarounds and inline modifiers are not supported', 'unsupported');
      }
    }
    const node = this.#disjunction();
    if (!this.#eat(')')) this.#fail('unterminated group');
    return node;
  }

  #class(): CharSet {
    this.#i++;
    const negated = this.#eat('^');
    const ranges: [number, number][] = [];
    const sets: CharSet[] = [];
    while (!this.#eat(']')) {
      if (this.#i >= this.#src.length) this.#fail('unterminated character class');
      const from = this.#classAtom();
      if (this.#peek() === '-' && this.#peek(1) !== ']' && this.#peek(1) !== undefined) {
        this.#i++;
        const to = this.#classAtom();
        if (typeof from !== 'number' || typeof to !== 'number') this.#fail('invalid class range');
        if (from > to) this.#fail('class range out of order');
        ranges.push([from, to]);
      } else if (typeof from === 'number') {
        ranges.push([from, from]);
      } else {
        sets.push(from);
      }
    }
    const union = new CharSet([...ranges, ...sets.flatMap(pairs)]);
    return negated ? union.negate() : union;
  }

  #classAtom(): number | CharSet {
    if (!this.#eat('\\')) return this.#codePoint();
    return this.#escape(true);
  }

  /** The escape after a `\`: a code point, or a set for `\d`-style class escapes. */
  #escape(inClass: boolean): number | CharSet {
    const c = this.#peek();
    if (c === undefined) return this.#fail('trailing "\\"');
    this.#i++;
    const set = CLASS_ESCAPES[c];
    if (set) return set;
    const control = CONTROL_ESCAPES[c];
    if (control !== undefined) return control;
    if (SYNTAX_CHARS.includes(c) || (inClass && c === '-')) return c.codePointAt(0)!;
    switch (c) {
      case 'b':
        return inClass ? 0x08 : this.#fail('word boundaries are not supported', 'unsupported');
      case 'B':
        return this.#fail('word boundaries are not supported', 'unsupported');
      case 'c': {
        const letter = this.#peek();
        if (letter === undefined || !/[A-Za-z]/.test(letter)) return this.#fail('invalid "\\c" escape');
        this.#i++;
        return letter.charCodeAt(0) % 32;
      }
      case '0':
        if (/[0-9]/.test(this.#peek() ?? '')) return this.#fail('octal escapes are not allowed');
        return 0;
      case 'x':
        return this.#hex(/^[0-9A-Fa-f]{2}/);
      case 'u':
        return this.#unicodeEscape();
      case 'k':
        return this.#fail('backreferences are not supported', 'unsupported');
      case 'p':
      case 'P':
        return this.#fail('Unicode property escapes are not supported', 'unsupported');
      default:
        if (/[1-9]/.test(c)) return this.#fail('backreferences are not supported', 'unsupported');
        return this.#fail(`invalid escape "\\${c}"`);
    }
  }

  #hex(shape: RegExp): number {
    const m = shape.exec(this.#src.slice(this.#i));
    if (!m) return this.#fail('invalid hexadecimal escape');
    this.#i += m[0].length;
    return Number.parseInt(m[0].replace(/[{}]/g, ''), 16);
  }

  #unicodeEscape(): number {
    if (this.#peek() === '{') {
      const cp = this.#hex(/^\{[0-9A-Fa-f]+\}/);
      return cp > 0x10ffff ? this.#fail('code point out of range') : cp;
    }
    const unit = this.#hex(/^[0-9A-Fa-f]{4}/);
    // In `u` mode an escaped surrogate pair denotes one code point (ECMA-262 RegExpUnicodeEscapeSequence).
    if (unit >= 0xd800 && unit <= 0xdbff && /^\\u[dD][c-fC-F][0-9A-Fa-f]{2}/.test(this.#src.slice(this.#i))) {
      const low = Number.parseInt(this.#src.slice(this.#i + 2, this.#i + 6), 16);
      this.#i += 6;
      return 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00);
    }
    return unit;
  }
}

function pairs(set: CharSet): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < set.ranges.length; i += 2) out.push([set.ranges[i]!, set.ranges[i + 1]!]);
  return out;
}
