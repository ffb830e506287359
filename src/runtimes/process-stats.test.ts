import { describe, expect, it } from 'vitest';
import { softFileLimit } from './process-stats.ts';
import { fileLimitWarning } from './startup.ts';

const limits = (soft: string, hard: string) =>
  'Limit                     Soft Limit           Hard Limit           Units     \n' +
  'Max processes             63704                63704                processes \n' +
  `Max open files            ${soft.padEnd(20)} ${hard.padEnd(20)} files     \n` +
  'Max locked memory         8388608              8388608              bytes     \n';

describe('softFileLimit', () => {
  it('reads the soft open-file limit of /proc/self/limits', () => {
    expect(softFileLimit(limits('1024', '524288'))).toBe(1024);
    expect(softFileLimit(limits('unlimited', 'unlimited'))).toBeUndefined();
    expect(softFileLimit('Max processes 10 10 processes\n')).toBeUndefined();
  });
});

describe('fileLimitWarning', () => {
  it('warns when the limit, not the hub, would cap connections', () => {
    expect(fileLimitWarning(1024, 0)).toMatch(
      /^the open-file limit is 1024, so the hub holds about 924 connections at most: .*ulimit -n.* or set SSEHUB_MAX_CONNECTIONS below it\.$/,
    );
    expect(fileLimitWarning(1024, 2000)).toMatch(
      /^the open-file limit is 1024, too low for SSEHUB_MAX_CONNECTIONS \(2000\): it holds about 924: .* or lower SSEHUB_MAX_CONNECTIONS\.$/,
    );
    // The connections fit, with room for the process's own files.
    expect(fileLimitWarning(1024, 900)).toBeUndefined();
    expect(fileLimitWarning(65_536, 0)).toBeUndefined();
    expect(fileLimitWarning(undefined, 0)).toBeUndefined();
  });
});
