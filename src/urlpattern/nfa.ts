/**
 * Thompson's construction: a syntax tree (`syntax.ts`) becomes a nondeterministic automaton whose
 * size is linear in the tree (counted repetition unrolled). It is never run as such: `dfa.ts` turns
 * it into a deterministic one, which matches in one table lookup per input character.
 */
import { UrlPatternError } from './error.ts';
import { CharSet, type Node } from './syntax.ts';

/** A state that consumes one code point of its set and goes to `out1`. */
export const CHAR = 0;
/** An epsilon state with two successors, `out1` and `out2`. */
export const SPLIT = 1;
/** The accepting state. */
export const MATCH = 2;

/** A compiled automaton: parallel arrays indexed by state. */
export interface Nfa {
  readonly size: number;
  readonly start: number;
  readonly kind: Uint8Array;
  readonly out1: Int32Array;
  readonly out2: Int32Array;
  /** The code points a {@link CHAR} state consumes. */
  readonly sets: readonly (CharSet | undefined)[];
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
  return {
    size: kind.length,
    start,
    kind: Uint8Array.from(kind),
    out1: Int32Array.from(out1),
    out2: Int32Array.from(out2),
    sets,
  };
}
