/**
 * Linux `/proc` readings of the server under test: CPU time (utime + stime, all threads) and
 * resident memory, summed over the process and its descendants so that a wrapper process (a CLI
 * that forks, a runtime with helper processes) does not hide any of the work.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let clockTicks: number | undefined;

/** USER_HZ, the unit of utime/stime in /proc/<pid>/stat (proc(5)); 100 on every common kernel. */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** Fields of /proc/<pid>/stat after the `(comm)` field, which may itself contain spaces. */
function statFields(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** `pid` and all its live descendants. */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(Number(entry));
    const ppid = Number(fields?.[1]);
    if (!fields || !ppid) continue;
    const list = children.get(ppid) ?? [];
    list.push(Number(entry));
    children.set(ppid, list);
  }
  const tree: number[] = [];
  const stack = [pid];
  while (stack.length > 0) {
    const p = stack.pop()!;
    tree.push(p);
    stack.push(...(children.get(p) ?? []));
  }
  return tree;
}

/** CPU seconds (user + system) consumed so far by the given processes. */
export function cpuSeconds(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    const fields = statFields(pid);
    // stat fields 14 and 15 (utime, stime); index 0 here is field 3 (state).
    if (fields) ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / ticksPerSecond();
}

/** Resident set size in bytes (VmRSS) of the given processes, summed. */
export function rssBytes(pids: readonly number[]): number {
  let kib = 0;
  for (const pid of pids) {
    try {
      const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) kib += Number(m[1]);
    } catch {
      // The process is gone; it holds no memory.
    }
  }
  return kib * 1024;
}

/**
 * Busy CPU seconds of the whole machine so far (all cores, /proc/stat: everything but idle and
 * iowait). Subtracting the server's and the generator's own time from a window's delta gives the
 * load that something else put on the machine meanwhile — the numbers are void if that is large.
 */
export function machineBusySeconds(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
    const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
    return (
      ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) /
      ticksPerSecond()
    );
  } catch {
    return Number.NaN;
  }
}

/**
 * Seconds the processes' threads spent runnable but waiting for a CPU (second field of
 * /proc/<pid>/task/<tid>/schedstat, in ns; needs schedstats, on by default). Any of it inside a
 * measurement window means something else held the core: latency and throughput are then
 * understated, while CPU time per event stays roughly valid.
 */
export function runQueueWaitSeconds(pids: readonly number[]): number {
  let ns = 0;
  for (const pid of pids) {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[1]);
      } catch {
        // The thread ended meanwhile.
      }
    }
  }
  return ns / 1e9;
}
