/**
 * Parser for one URL Pattern component string (`/books/:id(\d+)?`, `*.example.com`), following
 * the WHATWG URL Pattern standard's "tokenize" (strict policy) and "parse a pattern string",
 * then turning the parts into a syntax tree the way "generate a regular expression and name list"
 * turns them into a regexp.
 *
 * Input is a component as normalized by the polyfill (its `pathname`, `hostname`, … getters), so
 * fixed text is already canonicalized and is not encoded again here.
 */
import { UrlPatternError } from './error.ts';
import { DOT, parseRegexp } from './regexp.ts';
import { CharSet, charset, literal, type Node, repeat, seq } from './syntax.ts';

/** How one component is parsed: which characters end a segment, which may prefix a group. */
export interface ComponentOptions {
  /** Characters a segment wildcard (`:name`) cannot match, e.g. `/` in a pathname. */
  readonly delimiters: string;
  /** A single character from this list right before a group becomes its implicit prefix. */
  readonly prefixes: string;
}

type TokenType =
  | 'open'
  | 'close'
  | 'regexp'
  | 'name'
  | 'char'
  | 'escaped'
  | 'modifier'
  | 'asterisk'
  | 'invalid'
  | 'end';
interface Token {
  readonly type: TokenType;
  readonly value: string;
  /** Where the token starts in the pattern. */
  readonly index: number;
}

type Modifier = '' | '?' | '*' | '+';
type PartType = 'fixed' | 'segment' | 'full' | 'regexp';
interface Part {
  readonly type: PartType;
  readonly prefix: string;
  readonly value: string;
  readonly suffix: string;
  readonly modifier: Modifier;
}

const NAME_START = /[$_\p{ID_Start}]/u;
const NAME_PART = /[$_\p{ID_Continue}]|\u200c|\u200d/u;
// The standard's marker for a `*` part, and the regexp it stands for.
const FULL_WILDCARD = '.*';

function fail(message: string): never {
  throw new UrlPatternError(`Invalid URL pattern: ${message}`);
}

/**
 * Splits a pattern into tokens; like the standard's "tokenize", works on UTF-16 units.
 * With `lenient`, a character that would be an error becomes an `invalid` token instead, as the
 * standard's constructor string parser tokenizes (policy "lenient").
 */
export function tokenize(input: string, lenient = false): Token[] {
  const tokens: Token[] = [];
  for (let i = 0; i < input.length; ) {
    try {
      const [type, value, end] = nextToken(input, i);
      tokens.push({ type, value, index: i });
      i = end;
    } catch (err) {
      if (!lenient || !(err instanceof UrlPatternError)) throw err;
      tokens.push({ type: 'invalid', value: input[i]!, index: i });
      i++;
    }
  }
  tokens.push({ type: 'end', value: '', index: input.length });
  return tokens;
}

function nextToken(input: string, i: number): [TokenType, string, number] {
  const c = input[i]!;
  switch (c) {
    case '*':
      return ['asterisk', c, i + 1];
    case '+':
    case '?':
      return ['modifier', c, i + 1];
    case '{':
      return ['open', c, i + 1];
    case '}':
      return ['close', c, i + 1];
    case '\\':
      if (i + 1 >= input.length) fail('trailing "\\"');
      return ['escaped', input[i + 1]!, i + 2];
    case ':': {
      let end = i + 1;
      while (end < input.length && (end === i + 1 ? NAME_START : NAME_PART).test(input[end]!)) end++;
      if (end === i + 1) fail(`missing parameter name at ${i}`);
      return ['name', input.slice(i + 1, end), end];
    }
    case '(':
      return ['regexp', ...regexpToken(input, i)];
    default:
      return ['char', c, i + 1];
  }
}

/**
 * Where the protocol of a constructor string ends: the index of the first `:` token outside
 * `{…}`, as the standard's constructor string parser finds it ("parse a constructor
 * string"), or -1 for a relative pattern.
 */
export function protocolEnd(pattern: string): number {
  let depth = 0;
  for (const { type, value, index } of tokenize(pattern, true)) {
    // Mirrors the parser's group handling: `{` inside a group is skipped, not counted.
    if (depth > 0) {
      if (type !== 'close') continue;
      depth--;
    }
    if (type === 'open') depth++;
    else if (value === ':' && (type === 'char' || type === 'escaped' || type === 'invalid')) return index;
  }
  return -1;
}

/** Reads a `(…)` regexp token starting at `open`; returns its body and the index after `)`. */
function regexpToken(input: string, open: number): [string, number] {
  let depth = 1;
  let i = open + 1;
  if (input[i] === '?') fail(`regexp group cannot start with "?" at ${i}`);
  while (i < input.length) {
    const c = input[i]!;
    if (c.charCodeAt(0) > 0x7f) fail(`non-ASCII character in regexp group at ${i}`);
    if (c === '\\') {
      i += 2;
      continue;
    }
    if (c === ')' && --depth === 0) {
      const body = input.slice(open + 1, i);
      if (body === '') fail(`empty regexp group at ${open}`);
      return [body, i + 1];
    }
    if (c === '(') {
      depth++;
      if (input[i + 1] !== '?') fail(`capturing groups are not allowed at ${i}`);
    }
    i++;
  }
  return fail(`unbalanced regexp group at ${open}`);
}

/** Parses a component pattern into parts (the standard's "parse a pattern string"). */
export function parseParts(input: string, options: ComponentOptions): Part[] {
  const tokens = tokenize(input);
  const segment = `[^${escapeRegexp(options.delimiters)}]+?`;
  const parts: Part[] = [];
  let pos = 0;
  let pending = '';
  const take = (type: TokenType): string | undefined =>
    tokens[pos]?.type === type ? tokens[pos++]!.value : undefined;
  const takeText = (): string => {
    let text = '';
    for (let t = take('char') ?? take('escaped'); t !== undefined; t = take('char') ?? take('escaped')) {
      text += t;
    }
    return text;
  };
  const flush = (): void => {
    if (pending !== '') parts.push({ type: 'fixed', prefix: '', value: pending, suffix: '', modifier: '' });
    pending = '';
  };
  const addPart = (prefix: string, group: string | undefined, suffix: string, modifier: Modifier): void => {
    if (group === undefined && modifier === '') {
      pending += prefix;
      return;
    }
    flush();
    if (group === undefined) {
      if (prefix !== '') parts.push({ type: 'fixed', prefix: '', value: prefix, suffix: '', modifier });
      return;
    }
    // A group spelled exactly like the wildcard it would be is that wildcard ("add a part").
    const type: PartType = group === segment ? 'segment' : group === FULL_WILDCARD ? 'full' : 'regexp';
    parts.push({ type, prefix, value: group, suffix, modifier });
  };
  // A `:name` becomes a segment wildcard. Names only matter for captures, which we never report,
  // and the polyfill has already refused duplicates.
  const group = (): string | undefined => {
    if (take('name') !== undefined) return take('regexp') ?? segment;
    const regexp = take('regexp') ?? take('asterisk');
    return regexp === '*' ? FULL_WILDCARD : regexp;
  };
  const modifier = (): Modifier => (take('modifier') ?? take('asterisk') ?? '') as Modifier;

  while (pos < tokens.length) {
    const char = take('char');
    const found = group();
    if (found !== undefined) {
      let prefix = char ?? '';
      if (!options.prefixes.includes(prefix)) {
        pending += prefix;
        prefix = '';
      }
      flush();
      addPart(prefix, found, '', modifier());
      continue;
    }
    const fixed = char ?? take('escaped');
    if (fixed !== undefined) {
      pending += fixed;
      continue;
    }
    if (take('open') !== undefined) {
      const prefix = takeText();
      const inner = group();
      const suffix = takeText();
      if (take('close') === undefined) fail('expected "}"');
      addPart(prefix, inner, suffix, modifier());
      continue;
    }
    flush();
    if (take('end') === undefined) fail(`unexpected "${tokens[pos]!.value}"`);
  }
  return parts;
}

/**
 * Builds the syntax tree for a whole component, as "generate a regular expression and name list"
 * builds its regexp: `strict` on, anchored at both ends.
 */
export function componentNode(input: string, options: ComponentOptions): Node {
  const segmentSet = new CharSet(
    [...options.delimiters].map((d) => [d.codePointAt(0)!, d.codePointAt(0)!]),
  ).negate();
  const items: Node[] = [];
  for (const part of parseParts(input, options)) {
    if (part.type === 'fixed') {
      items.push(withModifier(literal(part.value), part.modifier));
      continue;
    }
    const inner = (): Node =>
      part.type === 'segment'
        ? repeat(charset(segmentSet), 1, Number.POSITIVE_INFINITY)
        : part.type === 'full'
          ? repeat(charset(DOT), 0, Number.POSITIVE_INFINITY)
          : parseRegexp(part.value);
    const prefix = literal(part.prefix);
    const suffix = literal(part.suffix);
    if (part.prefix === '' && part.suffix === '') {
      items.push(withModifier(inner(), part.modifier));
    } else if (part.modifier === '' || part.modifier === '?') {
      items.push(withModifier(seq(prefix, inner(), suffix), part.modifier));
    } else {
      // `{p x s}+` repeats as p x (s p x)* s, so the suffix and prefix sit between repetitions.
      const repeated = seq(
        prefix,
        inner(),
        repeat(seq(suffix, prefix, inner()), 0, Number.POSITIVE_INFINITY),
        suffix,
      );
      items.push(part.modifier === '*' ? repeat(repeated, 0, 1) : repeated);
    }
  }
  return seq(...items);
}

/**
 * The text a component pattern matches when it matches exactly one string (only fixed text, no
 * groups or modifiers), else undefined: such components are compared as strings.
 */
export function componentLiteral(input: string, options: ComponentOptions): string | undefined {
  let text = '';
  for (const part of parseParts(input, options)) {
    if (part.type !== 'fixed' || part.modifier !== '') return undefined;
    text += part.value;
  }
  return text;
}

function withModifier(node: Node, modifier: Modifier): Node {
  switch (modifier) {
    case '':
      return node;
    case '?':
      return repeat(node, 0, 1);
    case '*':
      return repeat(node, 0, Number.POSITIVE_INFINITY);
    case '+':
      return repeat(node, 1, Number.POSITIVE_INFINITY);
  }
}

function escapeRegexp(text: string): string {
  return text.replace(/[.+*?^${}()[\]|/\\]/g, '\\$&');
}
