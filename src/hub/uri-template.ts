/**
 * Matching topics against RFC 6570 URI templates, the topic selectors of the pre-standardization
 * Mercure dialect (`topic=https://example.com/books/{id}`, `mercure.subscribe` claims). Matching is a
 * Thompson NFA simulation: time is O(topic length × template length), whatever the template, so a
 * hostile selector cannot stall the hub the way a backtracking regular expression could.
 */
import type { CompiledUrlPattern } from './urlpattern.ts';

/** One step of the template: a literal character, or an expression that consumes a run of characters. */
type Step = { literal: string } | { any: boolean };

/** Delimiters a simple `{var}` expansion percent-encodes (RFC 6570 §3.2.2): it never spans them. */
const SIMPLE_STOPS = new Set(['/', '?', '#']);

/** True when `selector` contains a URI template expression and should be matched as one. */
export const isUriTemplate = (selector: string): boolean => /\{[^{}]*\}/.test(selector);

/**
 * Compiles a URI template into a matcher. `{var}` (and `{.var}`, `{;var}`…) matches a run of characters
 * without URI delimiters; `{+var}`, `{#var}`, `{/var*}` and other reserved or exploded expansions match
 * any run. Unbalanced braces are matched literally.
 */
export function compileUriTemplate(template: string): CompiledUrlPattern {
  const steps: Step[] = [];
  for (let i = 0; i < template.length; ) {
    const end = template[i] === '{' ? template.indexOf('}', i) : -1;
    if (end === -1) {
      steps.push({ literal: template[i]! });
      i++;
      continue;
    }
    const expression = template.slice(i + 1, end);
    const operator = expression[0] ?? '';
    const any = '+#/'.includes(operator) || expression.endsWith('*') || expression.includes(',');
    // Adjacent expressions match the same as one: merge them to keep the automaton small.
    const last = steps.at(-1);
    if (last && 'any' in last) last.any ||= any;
    else steps.push({ any });
    i = end + 1;
  }
  return { pattern: template, test: (topic) => run(steps, topic) };
}

function run(steps: readonly Step[], topic: string): boolean {
  let states = closure(steps, [0]);
  for (let i = 0; i < topic.length; i++) {
    const char = topic[i]!;
    const next: number[] = [];
    for (const s of states) {
      const step = steps[s];
      if (!step) continue;
      if ('literal' in step) {
        if (step.literal === char) next.push(s + 1);
      } else if (step.any || !SIMPLE_STOPS.has(char)) next.push(s); // An expression loops on itself.
    }
    if (next.length === 0) return false;
    states = closure(steps, next);
  }
  return states.has(steps.length);
}

/** The states reachable without consuming input: an expression may match the empty string. */
function closure(steps: readonly Step[], from: readonly number[]): Set<number> {
  const set = new Set<number>();
  for (let s of from) {
    while (!set.has(s)) {
      set.add(s);
      const step = steps[s];
      if (!step || 'literal' in step) break;
      s++;
    }
  }
  return set;
}
