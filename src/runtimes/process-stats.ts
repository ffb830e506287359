/**
 * The process as `/metrics` reports it (see `ProcessStats`), through `node:process` and `node:fs`:
 * Node, Bun and Deno all have them. Open files and their limit come from Linux's `/proc` and are left
 * out where it is missing (or, on Deno, not readable).
 */
import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import process from 'node:process';
import type { ProcessStats } from '../hub/index.ts';

/** What the process's files cost to count, whoever scrapes: at most one count per this many ms. */
const FILES_EVERY_MS = 1000;

/**
 * A reader of the process's figures. Counting open files lists `/proc/self/fd`, one entry per
 * connection, off the event loop: it runs at most once a second however often `/metrics` is asked,
 * and concurrent scrapes share it.
 */
export function processStats(): () => Promise<ProcessStats> {
  const startTimeSeconds = Date.now() / 1000 - process.uptime();
  let files: Promise<{ open?: number; max?: number }> | undefined;
  let filesAt = 0;
  return async () => {
    const now = performance.now();
    if (!files || now - filesAt >= FILES_EVERY_MS) {
      filesAt = now;
      files = countFiles();
    }
    const cpu = process.cpuUsage();
    const memory = process.memoryUsage();
    const { open, max } = await files;
    return {
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      residentBytes: memory.rss,
      startTimeSeconds,
      heapUsedBytes: memory.heapUsed,
      heapTotalBytes: memory.heapTotal,
      ...(open !== undefined ? { openFiles: open } : {}),
      ...(max !== undefined ? { maxFiles: max } : {}),
    };
  };
}

async function countFiles(): Promise<{ open?: number; max?: number }> {
  const [open, limits] = await Promise.all([
    readdir('/proc/self/fd').then(
      (entries) => entries.length,
      () => undefined,
    ),
    readFile('/proc/self/limits', 'utf8').then(softFileLimit, () => undefined),
  ]);
  return { open, max: limits };
}

/** The soft `Max open files` of a `/proc/<pid>/limits` text; undefined if unlimited or absent. */
export function softFileLimit(limits: string): number | undefined {
  const line = /^Max open files\s+(\d+|unlimited)\s/m.exec(limits);
  return line && line[1] !== 'unlimited' ? Number(line[1]) : undefined;
}

/** The process's soft open-file limit, read now (for the start-up banner); undefined where unknown. */
export function openFileLimit(): number | undefined {
  try {
    return softFileLimit(readFileSync('/proc/self/limits', 'utf8'));
  } catch {
    return undefined;
  }
}
