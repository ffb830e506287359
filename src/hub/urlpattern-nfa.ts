/**
 * A Thompson NFA over Unicode code points, matched by state-set simulation.
 *
 * Every URL-pattern component compiles to one of these. Matching keeps the set of live states
 * and advances it one input code point at a time, so a run costs at most
 * `states × (input length + 1)` state visits whatever the pattern: there is no backtracking.
 */
import { UrlPatternError } from './urlpattern-error.ts';

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

const CHAR = 0;
const SPLIT = 1;
const MATCH = 2;

/** A compiled automaton; reusable, but not re-entrant (it owns its scratch buffers). */
export interface Nfa {
  readonly size: number;
  readonly start: number;
  readonly kind: Uint8Array;
  readonly out1: Int32Array;
  readonly out2: Int32Array;
  readonly sets: readonly (CharSet | undefined)[];
  readonly scratch: {
    mark: Uint32Array;
    generation: number;
    current: Int32Array;
    next: Int32Array;
    stack: Int32Array;
  };
}

/**
 * Shared across the components of one pattern so the whole pattern respects one size cap. Each
 * state and each syntax node visited while building costs one unit.
 */
export interface StateBudget {
  remaining: number;
}

/** Compiles `node` into an NFA, throwing `UrlPatternError` once `budget` is used up. */
export function compileNfa(node: Node, budget: StateBudget): Nfa {
  const kind: number[] = [];
  const out1: number[] = [];
  const out2: number[] = [];
  const sets: (CharSet | undefined)[] = [];
  const spend = (): void => {
    if (--budget.remaining < 0) {
      throw new UrlPatternError('URL pattern is too complex (compiles to too many states)', 'too-complex');
    }
  };
  const add = (k: number, a: number, b: number, set?: CharSet): number => {
    spend();
    kind.push(k);
    out1.push(a);
    out2.push(b);
    sets.push(set);
    return kind.length - 1;
  };
  // Built back to front: each call returns the entry state of `n` followed by `next`.
  const build = (n: Node, next: number): number => {
    // Charged even when no state results, or `(?:(?:(?:){99}){99}){99}` would loop for free.
    spend();
    switch (n.kind) {
      case 'set':
        return add(CHAR, next, -1, n.set);
      case 'seq':
        for (let i = n.items.length - 1; i >= 0; i--) next = build(n.items[i]!, next);
        return next;
      case 'alt': {
        if (n.options.length === 0) return add(CHAR, next, -1, new CharSet([]));
        let entry = build(n.options[n.options.length - 1]!, next);
        for (let i = n.options.length - 2; i >= 0; i--) entry = add(SPLIT, build(n.options[i]!, next), entry);
        return entry;
      }
      case 'repeat': {
        let entry = next;
        if (n.max === Number.POSITIVE_INFINITY) {
          const loop = add(SPLIT, -1, next);
          out1[loop] = build(n.node, loop);
          entry = loop;
        } else {
          // x{0,k} as (x(x(…)?)?)?: every skip jumps straight to `next`.
          for (let i = n.min; i < n.max; i++) entry = add(SPLIT, build(n.node, entry), next);
        }
        for (let i = 0; i < n.min; i++) entry = build(n.node, entry);
        return entry;
      }
    }
  };
  const start = build(node, add(MATCH, -1, -1));
  const size = kind.length;
  return {
    size,
    start,
    kind: Uint8Array.from(kind),
    out1: Int32Array.from(out1),
    out2: Int32Array.from(out2),
    sets,
    scratch: {
      mark: new Uint32Array(size),
      generation: 0,
      current: new Int32Array(size),
      next: new Int32Array(size),
      stack: new Int32Array(size * 2 + 1),
    },
  };
}

/** Counts work done by `runNfa`, for tests and benchmarks. */
export interface StepMeter {
  steps: number;
}

/**
 * True when the whole of `input` is accepted. Each state enters the live set at most once per
 * input position, and each entry is one step, so `steps ≤ nfa.size × (code points + 1)`.
 */
export function runNfa(nfa: Nfa, input: string, meter?: StepMeter): boolean {
  const { kind, out1, out2, sets, scratch } = nfa;
  const { mark, stack } = scratch;
  let current = scratch.current;
  let next = scratch.next;
  let steps = 0;
  let matched = false;
  // Adds the epsilon-closure of `state` to `list`; `mark` dedupes within one generation.
  const close = (state: number, list: Int32Array, length: number): number => {
    let top = 0;
    stack[top++] = state;
    while (top > 0) {
      const s = stack[--top]!;
      if (mark[s] === scratch.generation) continue;
      mark[s] = scratch.generation;
      steps++;
      if (kind[s] === CHAR) list[length++] = s;
      else if (kind[s] === MATCH) matched = true;
      else {
        stack[top++] = out2[s]!;
        stack[top++] = out1[s]!;
      }
    }
    return length;
  };
  const nextGeneration = (): void => {
    if (++scratch.generation === 0xffffffff) {
      mark.fill(0);
      scratch.generation = 1;
    }
  };

  nextGeneration();
  let length = close(nfa.start, current, 0);
  for (let i = 0; i < input.length; ) {
    if (length === 0) {
      matched = false;
      break;
    }
    const cp = input.codePointAt(i)!;
    i += cp > 0xffff ? 2 : 1;
    nextGeneration();
    matched = false;
    let nextLength = 0;
    for (let j = 0; j < length; j++) {
      const s = current[j]!;
      if (sets[s]!.has(cp)) nextLength = close(out1[s]!, next, nextLength);
    }
    const swap = current;
    current = next;
    next = swap;
    length = nextLength;
  }
  if (meter) meter.steps += steps;
  return matched;
}
