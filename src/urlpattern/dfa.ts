/**
 * Deterministic automata built from Thompson NFAs by subset construction, so that matching costs one
 * table lookup per input character whatever the pattern: no backtracking, and no set of live states
 * to carry along either.
 *
 * The input alphabet is split into classes of code points that every set of the NFA treats alike
 * (URL components are ASCII, so there are few), and the whole automaton is built when the pattern is
 * compiled, under a budget: a pattern whose automaton would be too big is refused then, with an
 * error, instead of being slow later, on every update. Two kinds of state end a run early: the dead
 * state (nothing can match any more) and "sure" states (everything from here on matches, e.g. after
 * `/books/` in `/books/*`).
 */
import { UrlPatternError } from './error.ts';
import { CHAR, MATCH, type Nfa } from './nfa.ts';
import type { CharSet } from './syntax.ts';

/** What building automata may cost; shared by the components of one pattern. */
export interface DfaBudget {
  /** Work units left: one per NFA state visited and per transition computed. */
  work: number;
  /** Table entries (states × alphabet classes) left: the memory the automata may take. */
  entries: number;
}

/** A complete deterministic automaton. State 0 is dead. */
export interface Dfa {
  readonly start: number;
  readonly states: number;
  /** Number of alphabet classes: the width of a table row. */
  readonly width: number;
  /** `table[state * width + class]` is the next state. */
  readonly table: Uint16Array;
  /** 1 when the state accepts. */
  readonly accept: Uint8Array;
  /** {@link DEAD} or {@link SURE} when a run can stop in this state, else 0. */
  readonly stop: Uint8Array;
  /** Class of each ASCII code point. */
  readonly ascii: Uint16Array;
  /** Start of each interval of code points ≥ 128, ascending, and its class. */
  readonly upperStarts: Int32Array;
  readonly upperClasses: Uint16Array;
}

/** Stop: nothing can match from here. */
export const DEAD = 1;
/** Stop: everything matches from here. */
export const SURE = 2;

const MAX_CODE_POINT = 0x10ffff;

/** Counts characters consumed by {@link runDfa}, for tests and benchmarks. */
export interface StepMeter {
  steps: number;
}

/**
 * Builds the automaton of `nfa`, charging `budget`.
 * @throws {UrlPatternError} `too-complex` when the budget runs out.
 */
export function buildDfa(nfa: Nfa, budget: DfaBudget): Dfa {
  const tooComplex = (): never => {
    throw new UrlPatternError(
      'URL pattern is too complex (its automaton would be too large to match quickly)',
      'too-complex',
    );
  };
  const spend = (units: number): void => {
    budget.work -= units;
    if (budget.work < 0) tooComplex();
  };
  const alphabet = buildAlphabet(nfa, spend);
  const { width, classesOf } = alphabet;
  // NFA state ids fit in 16 bits (the state budget keeps automata far smaller), so a sorted state
  // list doubles as a compact string key.
  if (nfa.size > 0xffff) tooComplex();

  // Epsilon closure of `seeds`: the CHAR states reachable without consuming input (sorted, in
  // `scratch[0, length)`), and whether MATCH is.
  const mark = new Uint32Array(nfa.size);
  let generation = 0;
  const stack = new Int32Array(nfa.size * 2 + 2);
  const scratch = new Uint16Array(nfa.size);
  let length = 0;
  let accepting = false;
  const closure = (seeds: ArrayLike<number>, count: number): void => {
    generation++;
    length = 0;
    accepting = false;
    let top = 0;
    let visited = 0;
    for (let i = count - 1; i >= 0; i--) stack[top++] = seeds[i]!;
    while (top > 0) {
      const s = stack[--top]!;
      if (mark[s] === generation) continue;
      mark[s] = generation;
      visited++;
      const kind = nfa.kind[s];
      if (kind === CHAR) scratch[length++] = s;
      else if (kind === MATCH) accepting = true;
      else {
        stack[top++] = nfa.out2[s]!;
        stack[top++] = nfa.out1[s]!;
      }
    }
    spend(visited + length);
    scratch.subarray(0, length).sort();
  };

  const ids = new Map<string, number>();
  const members: Uint16Array[] = [];
  const accepts: boolean[] = [];
  const rows: number[] = [];
  // Interns the closure just computed.
  const intern = (): number => {
    const list = scratch.subarray(0, length);
    const key = (accepting ? '+' : '-') + String.fromCharCode.apply(null, list as unknown as number[]);
    let id = ids.get(key);
    if (id === undefined) {
      id = members.length;
      budget.entries -= width;
      if (budget.entries < 0) tooComplex();
      ids.set(key, id);
      members.push(list.slice());
      accepts.push(accepting);
    }
    return id;
  };
  closure([], 0);
  intern(); // 0: dead
  closure([nfa.start], 1);
  const start = intern();

  const buckets: number[][] = Array.from({ length: width }, () => []);
  const seen = new Map<string, number>();
  for (let state = 0; state < members.length; state++) {
    // Successors per class, then one closure per distinct successor list.
    for (const bucket of buckets) bucket.length = 0;
    let pushed = 0;
    for (const s of members[state]!) {
      const classes = classesOf[s]!;
      pushed += classes.length;
      for (const k of classes) buckets[k]!.push(nfa.out1[s]!);
    }
    spend(pushed);
    seen.clear();
    for (let k = 0; k < width; k++) {
      const bucket = buckets[k]!;
      if (bucket.length === 0) {
        rows.push(0);
        continue;
      }
      const key = String.fromCharCode.apply(null, bucket);
      let next = seen.get(key);
      if (next === undefined) {
        closure(bucket, bucket.length);
        next = intern();
        seen.set(key, next);
      }
      rows.push(next);
    }
  }

  const states = members.length;
  // The entries budget keeps states (and so state ids) far below 2^16.
  if (states > 0xffff) tooComplex();
  const table = Uint16Array.from(rows);
  const accept = Uint8Array.from(accepts, (a) => (a ? 1 : 0));
  return {
    start,
    states,
    width,
    table,
    accept,
    stop: stopStates(table, accept, states, width),
    ascii: alphabet.ascii,
    upperStarts: alphabet.upperStarts,
    upperClasses: alphabet.upperClasses,
  };
}

/**
 * Marks where a run may stop: the dead state, and the accepting states from which every path stays
 * accepting ("sure"). A state is sure unless it does not accept or some successor is not sure, so
 * the non-sure states spread backwards from the non-accepting ones.
 */
function stopStates(table: ArrayLike<number>, accept: Uint8Array, states: number, width: number): Uint8Array {
  const predecessors: number[][] = Array.from({ length: states }, () => []);
  for (let s = 0; s < states; s++) {
    for (let k = 0; k < width; k++) predecessors[table[s * width + k]!]!.push(s);
  }
  const notSure = new Uint8Array(states);
  const queue: number[] = [];
  for (let s = 0; s < states; s++) {
    if (accept[s] === 0) {
      notSure[s] = 1;
      queue.push(s);
    }
  }
  while (queue.length > 0) {
    for (const p of predecessors[queue.pop()!]!) {
      if (notSure[p] === 0) {
        notSure[p] = 1;
        queue.push(p);
      }
    }
  }
  const stop = new Uint8Array(states);
  for (let s = 0; s < states; s++) stop[s] = notSure[s] === 0 ? SURE : 0;
  // The dead state only leads to itself and never accepts.
  stop[0] = DEAD;
  return stop;
}

interface Alphabet {
  width: number;
  ascii: Uint16Array;
  upperStarts: Int32Array;
  upperClasses: Uint16Array;
  /** For each NFA state, the classes its set contains (empty for non-CHAR states). */
  classesOf: (readonly number[])[];
}

/**
 * Splits the code points into intervals at every boundary of every set, and groups intervals that
 * every set treats alike into one class.
 */
function buildAlphabet(nfa: Nfa, spend: (units: number) => void): Alphabet {
  const distinct = new Map<string, { set: CharSet; index: number }>();
  const setIndex = new Int32Array(nfa.size).fill(-1);
  for (let s = 0; s < nfa.size; s++) {
    const set = nfa.sets[s];
    if (nfa.kind[s] !== CHAR || !set) continue;
    const key = set.ranges.join(',');
    let entry = distinct.get(key);
    if (!entry) {
      entry = { set, index: distinct.size };
      distinct.set(key, entry);
    }
    setIndex[s] = entry.index;
  }
  const sets = [...distinct.values()].map((e) => e.set);
  const bounds = new Set([0, 128]);
  for (const set of sets) {
    for (let i = 0; i < set.ranges.length; i += 2) {
      bounds.add(set.ranges[i]!);
      if (set.ranges[i + 1]! < MAX_CODE_POINT) bounds.add(set.ranges[i + 1]! + 1);
    }
  }
  const starts = [...bounds].sort((a, b) => a - b);
  spend(starts.length * (sets.length + 1));
  const classOfSignature = new Map<string, number>();
  const signatures: string[] = [];
  const intervalClass = starts.map((start) => {
    let signature = '';
    for (const set of sets) signature += set.has(start) ? '1' : '0';
    let k = classOfSignature.get(signature);
    if (k === undefined) {
      k = signatures.length;
      classOfSignature.set(signature, k);
      signatures.push(signature);
    }
    return k;
  });

  const ascii = new Uint16Array(128);
  const upperStarts: number[] = [];
  const upperClasses: number[] = [];
  for (let j = 0; j < starts.length; j++) {
    const from = starts[j]!;
    const to = j + 1 < starts.length ? starts[j + 1]! : MAX_CODE_POINT + 1;
    const k = intervalClass[j]!;
    if (from < 128) ascii.fill(k, from, Math.min(to, 128));
    else if (upperClasses.at(-1) !== k) {
      upperStarts.push(from);
      upperClasses.push(k);
    }
  }
  const classesOfSet = sets.map((_, d) =>
    signatures.flatMap((signature, k) => (signature[d] === '1' ? [k] : [])),
  );
  const classesOf: (readonly number[])[] = Array.from(setIndex, (d) => (d < 0 ? [] : classesOfSet[d]!));
  return {
    width: signatures.length,
    ascii,
    upperStarts: Int32Array.from(upperStarts),
    upperClasses: Uint16Array.from(upperClasses),
    classesOf,
  };
}

/** The class of a code point ≥ 128: binary search over the interval starts. */
function upperClass(dfa: Dfa, cp: number): number {
  const starts = dfa.upperStarts;
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= cp) lo = mid;
    else hi = mid - 1;
  }
  return dfa.upperClasses[lo]!;
}

/**
 * True when the automaton accepts the whole of `input`, read as code points. One table lookup per
 * character, stopping early at the dead state or a sure one.
 */
export function runDfa(dfa: Dfa, input: string, meter?: StepMeter): boolean {
  const { table, stop, ascii, width } = dfa;
  let state = dfa.start;
  let result: boolean | undefined;
  const n = input.length;
  let i = 0;
  if (stop[state] !== 0) result = stop[state] === SURE;
  else {
    for (; i < n; i++) {
      const c = input.charCodeAt(i);
      let k: number;
      if (c < 128) k = ascii[c]!;
      else {
        let cp = c;
        if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
          const low = input.charCodeAt(i + 1);
          if (low >= 0xdc00 && low <= 0xdfff) {
            cp = ((c - 0xd800) << 10) + (low - 0xdc00) + 0x10000;
            i++;
          }
        }
        k = upperClass(dfa, cp);
      }
      state = table[state * width + k]!;
      if (stop[state] !== 0) {
        result = stop[state] === SURE;
        i++;
        break;
      }
    }
  }
  if (meter) meter.steps += i;
  return result ?? dfa.accept[state] === 1;
}
