/**
 * The pre-DFA URL pattern matcher, kept for comparison only (`bench/urlpattern.ts`): NOT used by the
 * hub. Each of the eight URL pattern components becomes a Thompson NFA matched by state-set
 * simulation, at most `states × (|topic| + 1)` state visits per component and no early stop.
 *
 * Copied from commit 94cf0f0 (`src/hub/urlpattern-nfa.ts`: `runNfa`; `src/hub/urlpattern.ts`: the
 * component handling), on top of today's parser and Thompson construction (`componentNode`,
 * `compileNfa`), which the rewrite kept unchanged. Only the glue differs: the scratch buffers that
 * the old `Nfa` carried now sit beside it, and there is no `measureUrlPattern` or cache.
 */
import { URLPattern } from 'urlpattern-polyfill/urlpattern';
import { UrlPatternError } from '../src/urlpattern/error.ts';
import { CHAR, compileNfa, MATCH, type Nfa, type StateBudget } from '../src/urlpattern/nfa.ts';
import { type ComponentOptions, componentNode, protocolEnd } from '../src/urlpattern/parse.ts';
import { MAX_PROTOCOL_PATTERN_LENGTH, MAX_STATES_PER_PATTERN_CHAR } from '../src/urlpattern/pattern.ts';

/** An NFA with the buffers its simulation reuses; not re-entrant. */
interface SimulatedNfa {
  readonly nfa: Nfa;
  readonly mark: Uint32Array;
  generation: number;
  readonly current: Int32Array;
  readonly next: Int32Array;
  readonly stack: Int32Array;
}

function simulated(nfa: Nfa): SimulatedNfa {
  return {
    nfa,
    mark: new Uint32Array(nfa.size),
    generation: 0,
    current: new Int32Array(nfa.size),
    next: new Int32Array(nfa.size),
    stack: new Int32Array(nfa.size * 2 + 1),
  };
}

/** Counts state visits of `runNfa`. */
export interface StepMeter {
  steps: number;
}

/**
 * True when the whole of `input` is accepted. Each state enters the live set at most once per
 * input position, so a run costs at most `nfa.size × (code points + 1)` state visits.
 */
export function runNfa(sim: SimulatedNfa, input: string, meter?: StepMeter): boolean {
  const { kind, out1, out2, sets } = sim.nfa;
  const { mark, stack } = sim;
  let current = sim.current;
  let next = sim.next;
  let steps = 0;
  let matched = false;
  // Adds the epsilon-closure of `state` to `list`; `mark` dedupes within one generation.
  const close = (state: number, list: Int32Array, length: number): number => {
    let top = 0;
    stack[top++] = state;
    while (top > 0) {
      const s = stack[--top]!;
      if (mark[s] === sim.generation) continue;
      mark[s] = sim.generation;
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
    if (++sim.generation === 0xffffffff) {
      mark.fill(0);
      sim.generation = 1;
    }
  };

  nextGeneration();
  let length = close(sim.nfa.start, current, 0);
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

/** The eight components, in the order URL Pattern matches them (shared with the re2js glue). */
export const COMPONENTS = [
  'protocol',
  'username',
  'password',
  'hostname',
  'port',
  'pathname',
  'search',
  'hash',
] as const;
export type Component = (typeof COMPONENTS)[number];
export const SPECIAL_SCHEMES = ['ftp', 'file', 'http', 'https', 'ws', 'wss'];
export const NO_DELIMITERS: ComponentOptions = { delimiters: '', prefixes: '' };
export const COMPONENT_OPTIONS: Record<Exclude<Component, 'pathname'>, ComponentOptions> = {
  protocol: NO_DELIMITERS,
  username: NO_DELIMITERS,
  password: NO_DELIMITERS,
  hostname: { delimiters: '.', prefixes: '' },
  port: NO_DELIMITERS,
  search: NO_DELIMITERS,
  hash: NO_DELIMITERS,
};

/** A compiled pattern of the old matcher (its `UrlPatternMatcher`). */
export class NfaUrlPattern {
  readonly pattern: string;
  /** NFA states over all eight components. */
  readonly states: number;
  readonly #base: string;
  readonly #nfas: readonly SimulatedNfa[];

  constructor(pattern: string, base: string, nfas: readonly SimulatedNfa[]) {
    this.pattern = pattern;
    this.#base = base;
    this.#nfas = nfas;
    this.states = nfas.reduce((sum, sim) => sum + sim.nfa.size, 0);
  }

  test(topic: string): boolean {
    const values = topicComponents(topic, this.#base);
    if (!values) return false;
    return this.#nfas.every((sim, i) => runNfa(sim, values[i]!));
  }
}

/** The old `compileUrlPattern`: every component an NFA, under the same per-character state budget. */
export function compileNfaUrlPattern(pattern: string, baseURL: string): NfaUrlPattern {
  const base = new URL(baseURL).href;
  const normalized = normalize(pattern, base);
  const size = COMPONENTS.reduce((sum, c) => sum + normalized[c].length + 1, 0);
  const budget: StateBudget = { remaining: MAX_STATES_PER_PATTERN_CHAR * size };
  const protocol = simulated(compileNfa(componentNode(normalized.protocol, NO_DELIMITERS), budget));
  // The standard's URLPattern constructor picks pathname options by whether the protocol pattern
  // can match a special scheme; opaque paths (`urn:…`) have no segments.
  const special = SPECIAL_SCHEMES.some((scheme) => runNfa(protocol, scheme));
  const pathname: ComponentOptions = special ? { delimiters: '/', prefixes: '/' } : NO_DELIMITERS;
  const nfas = COMPONENTS.map((c) =>
    c === 'protocol'
      ? protocol
      : simulated(
          compileNfa(
            componentNode(normalized[c], c === 'pathname' ? pathname : COMPONENT_OPTIONS[c]),
            budget,
          ),
        ),
  );
  return new NfaUrlPattern(pattern, base, nfas);
}

/** As in `src/urlpattern/pattern.ts` (unchanged since 94cf0f0). */
export function normalize(pattern: string, base: string): URLPattern {
  const end = protocolEnd(pattern);
  if (end > MAX_PROTOCOL_PATTERN_LENGTH) {
    throw new UrlPatternError(
      `URL pattern protocol is longer than ${MAX_PROTOCOL_PATTERN_LENGTH} characters`,
      'unsupported',
    );
  }
  if (end >= 0) {
    try {
      return new URLPattern(pattern);
    } catch {
      // Fall through, as the hub does.
    }
  }
  try {
    return new URLPattern(pattern, base);
  } catch (err) {
    const reason = err instanceof Error ? err.message.replace(/^Failed to construct 'URLPattern': /, '') : '';
    throw new UrlPatternError(`Invalid URL pattern: ${reason}`, 'malformed', { cause: err });
  }
}

/** The eight component values of a topic, as the old matcher read them (no memo). */
export function topicComponents(topic: string, base: string): string[] | undefined {
  let url: URL;
  try {
    url = new URL(topic, base);
  } catch {
    return undefined;
  }
  return [
    url.protocol.slice(0, -1),
    url.username,
    url.password,
    url.hostname,
    url.port,
    url.pathname,
    url.search.slice(1),
    url.hash.slice(1),
  ];
}
