/** RESULTS.md stays one file: a section run replaces its section only, the full run keeps them. */
import { describe, expect, it } from 'vitest';
import { mergeReport } from './report-sections.ts';

const main = (date: string) =>
  `# Benchmark results\n\n- **Date:** ${date}\n\n## (i) Saturation\n\ntable ${date}\n`;
const section = (id: string, body: string) => ({
  id,
  text: `<!-- section:${id} -->\n## ${id}\n\n${body}\n<!-- /section:${id} -->`,
});

describe('mergeReport', () => {
  it('adds a section after the main part and says that it comes from another run', () => {
    const out = mergeReport(main('d1'), { section: section('scale-out', 'redis numbers') });
    expect(out.startsWith('# Benchmark results\n\n_The sections after the scenarios')).toBe(true);
    expect(out.indexOf('table d1')).toBeLessThan(out.indexOf('<!-- section:scale-out -->'));
    expect(out).toContain('redis numbers\n<!-- /section:scale-out -->\n');
  });

  it('replaces only its own section, and keeps sections in a fixed order', () => {
    let out = mergeReport(main('d1'), { section: section('scale-out', 'redis v1') });
    out = mergeReport(out, { section: section('runtimes', 'bun v1') });
    out = mergeReport(out, { section: section('scale-out', 'redis v2') });
    expect(out).not.toContain('redis v1');
    expect(out).toContain('redis v2');
    expect(out).toContain('table d1');
    expect(out.indexOf('bun v1')).toBeLessThan(out.indexOf('redis v2'));
    expect(out.match(/<!-- section:scale-out -->/g)).toHaveLength(1);
    expect(out.match(/_The sections after/g)).toHaveLength(1);
  });

  it('rewrites the main part on a full run and keeps the sections', () => {
    const before = mergeReport(main('d1'), { section: section('runtimes', 'bun v1') });
    const out = mergeReport(before, { main: main('d2') });
    expect(out).not.toContain('table d1');
    expect(out).toContain('table d2');
    expect(out).toContain('bun v1');
    // Idempotent: merging the same main again changes nothing.
    expect(mergeReport(out, { main: main('d2') })).toBe(out);
  });

  it('starts a file with a placeholder main part when there is none', () => {
    const out = mergeReport(undefined, { section: section('runtimes', 'bun v1') });
    expect(out).toMatch(/^# Benchmark results\n/);
    expect(out).toContain('has not been recorded yet');
    expect(out).toContain('bun v1');
  });
});
