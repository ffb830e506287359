/**
 * The syntax tree every matcher of this folder compiles from: sets of code points, sequences,
 * alternatives and repetitions. URL pattern components (`parse.ts`), their regexp groups
 * (`regexp.ts`) and legacy URI templates (`uri-template.ts`) all parse into it; `nfa.ts` turns it
 * into an automaton.
 */

const MAX_CODE_POINT = 0x10ffff;

/** A set of code points stored as sorted, disjoint, inclusive `[lo, hi]` ranges. */
export class CharSet {
  /** Flattened ranges: `lo0, hi0, lo1, hi1, …`. */
  readonly ranges: readonly number[];
  // URL components are ASCII after parsing, so the hot path is a bitmap lookup.
  readonly #ascii = new Uint32Array(4);

  constructor(ranges: readonly (readonly [number, number])[]) {
    const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
    const flat: number[] = [];
    for (const [lo, hi] of sorted) {
      const last = flat.length - 1;
      if (last > 0 && lo <= flat[last]! + 1) flat[last] = Math.max(flat[last]!, hi);
      else flat.push(lo, hi);
    }
    this.ranges = flat;
    for (let i = 0; i < flat.length; i += 2) {
      for (let cp = flat[i]!; cp <= Math.min(flat[i + 1]!, 127); cp++) {
        this.#ascii[cp >> 5]! |= 1 << (cp & 31);
      }
    }
  }

  /** The set holding exactly the given code points. */
  static of(...codePoints: number[]): CharSet {
    return new CharSet(codePoints.map((cp) => [cp, cp]));
  }

  /** Every code point not in this set. */
  negate(): CharSet {
    const out: [number, number][] = [];
    let next = 0;
    for (let i = 0; i < this.ranges.length; i += 2) {
      if (this.ranges[i]! > next) out.push([next, this.ranges[i]! - 1]);
      next = this.ranges[i + 1]! + 1;
    }
    if (next <= MAX_CODE_POINT) out.push([next, MAX_CODE_POINT]);
    return new CharSet(out);
  }

  has(cp: number): boolean {
    if (cp < 128) return ((this.#ascii[cp >> 5]! >>> (cp & 31)) & 1) === 1;
    let lo = 0;
    let hi = this.ranges.length / 2 - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (cp < this.ranges[2 * mid]!) hi = mid - 1;
      else if (cp > this.ranges[2 * mid + 1]!) lo = mid + 1;
      else return true;
    }
    return false;
  }
}

/** Regular-expression syntax tree shared by the pattern-string and regexp-group parsers. */
export type Node =
  | { readonly kind: 'set'; readonly set: CharSet }
  | { readonly kind: 'seq'; readonly items: readonly Node[] }
  | { readonly kind: 'alt'; readonly options: readonly Node[] }
  | { readonly kind: 'repeat'; readonly node: Node; readonly min: number; readonly max: number };

/** `max` may be `Infinity`. */
export const repeat = (node: Node, min: number, max: number): Node => ({ kind: 'repeat', node, min, max });
export const seq = (...items: Node[]): Node => ({ kind: 'seq', items });
export const alt = (...options: Node[]): Node => ({ kind: 'alt', options });
export const charset = (set: CharSet): Node => ({ kind: 'set', set });

/** Matches `text` exactly (per code point, case-sensitively). */
export function literal(text: string): Node {
  const items: Node[] = [];
  for (const ch of text) items.push(charset(CharSet.of(ch.codePointAt(0)!)));
  return seq(...items);
}
