/** Ratio columns: every server against each reference, never a reference against an earlier one. */
import { describe, expect, it } from 'vitest';
import { ratioPairs } from './report-table.ts';

describe('ratioPairs', () => {
  it('puts the hub against the baseline and against Nchan, and Nchan against the baseline', () => {
    expect(ratioPairs(['hub', 'nchan', 'baseline'], ['baseline', 'nchan'])).toEqual([
      ['hub', 'baseline'],
      ['hub', 'nchan'],
      ['nchan', 'baseline'],
    ]);
  });

  it('skips references that did not run, and falls back to baseline, else the last column', () => {
    expect(ratioPairs(['hub', 'baseline'], ['baseline', 'nchan'])).toEqual([['hub', 'baseline']]);
    expect(ratioPairs(['hub', 'bun', 'deno'], ['hub', 'nchan'])).toEqual([
      ['bun', 'hub'],
      ['deno', 'hub'],
    ]);
    expect(ratioPairs(['hub', 'bun'], [])).toEqual([['hub', 'bun']]);
  });
});
