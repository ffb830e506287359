/**
 * The tables of the report: one column per server, then ratio columns against the references
 * (e.g. `hub ÷ baseline`, `hub ÷ nchan`), each saying which way is better.
 */
import type { ScenarioResult } from './scenarios.ts';

type Better = 'higher' | 'lower' | 'none';

/** One table row: a label and how to read it from a result. */
export interface Row {
  label: string;
  better: Better;
  cell: (r: ScenarioResult) => number | string | undefined;
  format?: (n: number) => string;
}

export const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');
export const fixed = (digits: number) => (n: number) => (Number.isFinite(n) ? n.toFixed(digits) : '–');

/** Core shares computed as differences of two counters can dip a little below 0; that is 0. */
export function clamped(n: number): string {
  return fixed(0)(Math.max(0, n));
}

/**
 * The ratio columns, as [server, reference] pairs: every server against every reference present,
 * except a reference against one listed before it (that is the inverse of a column already there).
 * Without a reference present: `baseline` if there, else the last column.
 *
 * @example
 * ratioPairs(['hub', 'nchan', 'baseline'], ['baseline', 'nchan']);
 * // [['hub', 'baseline'], ['hub', 'nchan'], ['nchan', 'baseline']]
 */
export function ratioPairs(names: readonly string[], references: readonly string[]): [string, string][] {
  let refs = references.filter((r) => names.includes(r));
  if (refs.length === 0) refs = [names.includes('baseline') ? 'baseline' : names[names.length - 1]!];
  const pairs: [string, string][] = [];
  for (const n of names) {
    for (const r of refs) {
      if (n === r) continue;
      if (refs.includes(n) && refs.indexOf(n) < refs.indexOf(r)) continue;
      pairs.push([n, r]);
    }
  }
  return pairs;
}

/** A Markdown table, one column per server plus the ratio columns of {@link ratioPairs}. */
export function table(
  rows: Row[],
  byServer: Map<string, ScenarioResult | Error>,
  references: readonly string[] = [],
): string[] {
  const names = [...byServer.keys()];
  const pairs = ratioPairs(names, references);
  const header = ['metric', ...names.map((n) => `\`${n}\``), ...pairs.map(([n, r]) => `${n} ÷ ${r}`)];
  const body: string[][] = [];
  for (const row of rows) {
    const raw = names.map((n) => {
      const r = byServer.get(n);
      return r === undefined || r instanceof Error ? undefined : row.cell(r);
    });
    const cells = raw.map((v, i) => {
      if (v !== undefined) return show(v, row);
      return byServer.get(names[i]!) instanceof Error ? 'error' : '–';
    });
    const ratios = pairs.map(([n, r]) => ratio(row, raw[names.indexOf(n)], raw[names.indexOf(r)]));
    body.push([row.label, ...cells, ...ratios]);
  }
  return alignTable(header, body);
}

function ratio(row: Row, v: number | string | undefined, ref: number | string | undefined): string {
  if (row.better === 'none' || typeof v !== 'number' || typeof ref !== 'number' || ref === 0) return '';
  const ratio = v / ref;
  if (!Number.isFinite(ratio)) return '';
  const good = row.better === 'higher' ? ratio >= 1 : ratio <= 1;
  const factor = ratio >= 1 ? ratio : 1 / ratio;
  if (!Number.isFinite(factor)) return `${ratio.toFixed(2)}×`;
  return `${ratio.toFixed(2)}× (${factor.toFixed(1)}× ${good ? 'better' : 'worse'})`;
}

/**
 * Pads every column to its widest cell (the first left-aligned, the others right-aligned), so that
 * the report reads as well in a terminal as rendered.
 */
export function alignTable(header: string[], body: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(3, h.length, ...body.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    `| ${widths.map((w, i) => (i === 0 ? (cells[i] ?? '').padEnd(w) : (cells[i] ?? '').padStart(w))).join(' | ')} |`;
  const rule = `| ${widths.map((w, i) => (i === 0 ? '-'.repeat(w) : `${'-'.repeat(w - 1)}:`)).join(' | ')} |`;
  return [line(header), rule, ...body.map(line)];
}

function show(v: number | string, row: Row): string {
  return typeof v === 'number' ? (row.format ?? String)(v) : v;
}
