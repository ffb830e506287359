/**
 * Whole-string matchers compiled from a syntax tree under one budget: the common tail of URL pattern
 * components (`pattern.ts`) and legacy URI templates (`uri-template.ts`).
 */
import { buildDfa, type Dfa, type DfaBudget, runDfa, type StepMeter, SURE } from './dfa.ts';
import { compileNfa, type StateBudget } from './nfa.ts';
import type { Node } from './syntax.ts';

/** One whole-string test: anything, one exact string, or an automaton. */
export type StringMatcher =
  | { readonly kind: 'any' }
  | { readonly kind: 'literal'; readonly text: string }
  | { readonly kind: 'dfa'; readonly dfa: Dfa };

/** What compiling one pattern may cost, and what it did cost. */
export interface CompileBudget extends StateBudget, DfaBudget {}

/**
 * Largest work a pattern may take to compile, in units (an NFA state built, a state visited, a
 * transition computed). Measured on Node 20 (2-core Debian box): about 100 ns a unit, so the
 * costliest pattern accepted compiles in about 10 ms, once (compiled patterns are cached and shared);
 * ordinary ones take a few hundred to a few thousand units.
 */
export const MAX_COMPILE_WORK = 100_000;

/**
 * What reading one character of a URL pattern costs before any automaton is built, in the same
 * units: the URL Pattern polyfill validates and normalizes the pattern first (1-7 µs a character on
 * Node 20), so a long pattern is never free even when its automaton is small.
 */
export const PARSE_COST_PER_CHAR = 50;

/** What compiling any pattern costs at least (about 0.2 ms on Node 20), in the same units. */
export const BASE_COST = 2_000;

/**
 * Largest automaton table of one pattern, in entries (2 bytes each): the memory a pattern may hold.
 * Ordinary patterns take tens to a few hundred.
 */
export const MAX_TABLE_ENTRIES = 16_384;

/** A fresh budget for one pattern with `states` NFA states allowed (and, for tests, other limits). */
export function compileBudget(
  states: number,
  work = MAX_COMPILE_WORK,
  entries = MAX_TABLE_ENTRIES,
): CompileBudget {
  return { remaining: states, work, entries };
}

/** What a budget has spent so far: the deterministic cost of a compiled pattern. */
export function spent(budget: CompileBudget, states: number): number {
  return states - budget.remaining + (MAX_COMPILE_WORK - budget.work);
}

/** Compiles a syntax tree into a matcher. */
export function compileMatcher(node: Node, budget: CompileBudget): StringMatcher {
  const dfa = buildDfa(compileNfa(node, budget), budget);
  return dfa.stop[dfa.start] === SURE ? { kind: 'any' } : { kind: 'dfa', dfa };
}

/** True when `matcher` accepts the whole of `input`. */
export function matchString(matcher: StringMatcher, input: string, meter?: StepMeter): boolean {
  switch (matcher.kind) {
    case 'any':
      return true;
    case 'literal':
      return input === matcher.text;
    case 'dfa':
      return runDfa(matcher.dfa, input, meter);
  }
}

/**
 * A string that is equal for two matchers exactly when they are built the same way, whatever the
 * source text (`/books/:id` and `/books/:bookId` compile alike): identical matchers can then be
 * shared, and tested once per topic.
 */
export function describeMatcher(matcher: StringMatcher): string {
  switch (matcher.kind) {
    case 'any':
      return '*';
    case 'literal':
      return `=${matcher.text.length}:${matcher.text}`;
    case 'dfa': {
      const { dfa } = matcher;
      // Two bytes a table entry: the key costs about what the table does.
      const tables = [dfa.ascii, dfa.upperClasses, dfa.table, dfa.accept].map(units).join('|');
      return `#${dfa.start},${dfa.states},${dfa.width},${dfa.upperStarts.join(',')}:${tables}`;
    }
  }
}

/** Numbers below 2^16 as one UTF-16 code unit each. */
function units(values: Uint16Array | Uint8Array): string {
  let out = '';
  for (let i = 0; i < values.length; i += 8192) {
    out += String.fromCharCode.apply(null, values.subarray(i, i + 8192) as unknown as number[]);
  }
  return out;
}

/** Number of automaton states, for reports. */
export function statesOf(matcher: StringMatcher): number {
  return matcher.kind === 'dfa' ? matcher.dfa.states : 0;
}
