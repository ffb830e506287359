/**
 * Matching topics against RFC 6570 URI templates, the topic selectors of the pre-standardization
 * Mercure dialect (`topic=https://example.com/books/{id}`, `mercure.subscribe` claims). A template
 * compiles to the same deterministic automata as URL patterns: one table lookup per character of the
 * topic, whatever the template, so a hostile selector cannot stall the hub.
 */
import { compileBudget, compileMatcher, matchString, spent } from './matcher.ts';
import type { CompiledUrlPattern } from './pattern.ts';
import { CharSet, charset, literal, type Node, repeat, seq } from './syntax.ts';

/** Delimiters a simple `{var}` expansion percent-encodes (RFC 6570 §3.2.2): it never spans them. */
const SIMPLE = repeat(charset(CharSet.of(0x2f, 0x3f, 0x23).negate()), 0, Number.POSITIVE_INFINITY);
/** What reserved and exploded expansions may produce: anything. */
const ANY = repeat(charset(new CharSet([[0, 0x10ffff]])), 0, Number.POSITIVE_INFINITY);

/** True when `selector` contains a URI template expression and should be matched as one. */
export const isUriTemplate = (selector: string): boolean => /\{[^{}]*\}/.test(selector);

/**
 * Compiles a URI template into a matcher of whole topics (compared as given, not resolved as URLs).
 * `{var}` (and `{.var}`, `{;var}`…) matches a run of characters without URI delimiters; `{+var}`,
 * `{#var}`, `{/var*}` and other reserved or exploded expansions match any run. Unbalanced braces are
 * matched literally.
 * @throws {UrlPatternError} `too-complex` for a template beyond the compile budget.
 */
export function compileUriTemplate(template: string): CompiledUrlPattern {
  const items: Node[] = [];
  let text = '';
  for (let i = 0; i < template.length; ) {
    const end = template[i] === '{' ? template.indexOf('}', i) : -1;
    if (end === -1) {
      text += template[i];
      i++;
      continue;
    }
    const expression = template.slice(i + 1, end);
    const operator = expression[0] ?? '';
    const any = '+#/'.includes(operator) || expression.endsWith('*') || expression.includes(',');
    items.push(literal(text), any ? ANY : SIMPLE);
    text = '';
    i = end + 1;
  }
  items.push(literal(text));
  const states = 4 * (template.length + 1);
  const budget = compileBudget(states);
  const matcher = compileMatcher(seq(...items), budget);
  const cost = spent(budget, states);
  let lastTopic: string | undefined;
  let lastResult = false;
  return {
    pattern: template,
    cost,
    key: `template ${template}`,
    test(topic) {
      if (topic !== lastTopic) {
        lastResult = matchString(matcher, topic);
        lastTopic = topic;
      }
      return lastResult;
    },
  };
}
