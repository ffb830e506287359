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

/** What identifies one process over time (a pid may be reused) and names it in reports. */
export interface ProcessInfo {
  pid: number;
  /** `comm`: the executable's name, at most 15 characters (proc(5)). */
  comm: string;
  /** Start time in clock ticks since boot: with the pid, a key no later process can reuse. */
  startTicks: number;
  cpuSeconds: number;
}

/** One reading of `pid`, or undefined once it is gone. */
export function processInfo(pid: number): ProcessInfo | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  const fields = text.slice(close + 2).split(' ');
  return {
    pid,
    comm: text.slice(open + 1, close),
    // stat fields 22 (starttime), 14 and 15 (utime, stime); index 0 here is field 3 (state).
    startTicks: Number(fields[19]),
    cpuSeconds: (Number(fields[11]) + Number(fields[12])) / ticksPerSecond(),
  };
}

/** The command line of `pid`, arguments joined by spaces ('' once it is gone). */
export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0$/, '').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

/**
 * CPU time of process trees that may change while they are measured: a launcher that starts its
 * workers late (wrangler), helpers that come and go. Every reading walks the trees again and adds
 * each process it has ever seen at its latest reading, so a process that appears counts from its
 * start and one that exits keeps what it had used when last seen (at most one reading's worth of
 * its final moments is lost).
 */
export class TreeCpu {
  private readonly seen = new Map<string, { part: string; seconds: number }>();

  /**
   * @param roots the tree roots, each with a label for its processes
   * @param name names one process of a tree: labels per process are summed in {@link byPart}
   */
  private readonly roots: () => readonly { pid: number; label: string }[];
  private readonly name: (label: string, p: ProcessInfo) => string;

  constructor(
    roots: () => readonly { pid: number; label: string }[],
    name: (label: string, p: ProcessInfo) => string,
  ) {
    this.roots = roots;
    this.name = name;
  }

  /** CPU seconds used so far, per part name, in first-seen order. */
  byPart(): Map<string, number> {
    for (const root of this.roots()) {
      for (const pid of processTree(root.pid)) {
        const p = processInfo(pid);
        if (!p) continue;
        const key = `${pid}:${p.startTicks}`;
        const entry = this.seen.get(key);
        if (entry) entry.seconds = p.cpuSeconds;
        else this.seen.set(key, { part: this.name(root.label, p), seconds: p.cpuSeconds });
      }
    }
    const parts = new Map<string, number>();
    for (const { part, seconds } of this.seen.values()) parts.set(part, (parts.get(part) ?? 0) + seconds);
    return parts;
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
 * Seconds core `core` spent running anything but idle, iowait and irq/softirq (the `cpuN` line of
 * /proc/stat: user + nice + system + steal). Minus the CPU time of what we pinned there, that is
 * what other processes took from it. Softirq is left out: loopback traffic is processed there,
 * and that traffic is ours.
 */
export function coreBusySeconds(core: number): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`cpu${core} `));
    if (!line) return Number.NaN;
    const [, user, nice, system, , , , , steal] = line.split(/\s+/).map(Number);
    return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (steal ?? 0)) / ticksPerSecond();
  } catch {
    return Number.NaN;
  }
}

/** The one core `pid` may run on (its affinity, from /proc/<pid>/status), if it is pinned to one. */
export function pinnedCore(pid: number): number | undefined {
  try {
    const m = /^Cpus_allowed_list:\s*(\d+)\s*$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Seconds the main thread of `pid` spent runnable but waiting for a CPU (second field of
 * /proc/<pid>/task/<pid>/schedstat, ns; schedstats are on by default). Inside a measurement window
 * it says how long something else held the core an event loop wanted. Helper threads are left
 * out: pinned to the same core, they mostly wait behind their own main thread.
 */
export function mainThreadWaitSeconds(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[1]) / 1e9;
  } catch {
    return Number.NaN;
  }
}

/** This process's open-file limit (soft), NaN when /proc does not say. */
export function openFileLimit(): number {
  const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  return m ? Number(m[1]) : Number.NaN;
}

/**
 * Connection attempts the kernel dropped because a listen queue was full, so far, machine-wide
 * (`TcpExt: ListenOverflows` in /proc/net/netstat; NaN when absent). Each one costs the client a
 * SYN retransmission: 1 s, then 3 s, 7 s… (RFC 6298 initial RTO). Only loopback traffic of ours is
 * expected during a storm; another process storming a listener of its own would count too.
 */
export function listenOverflows(): number {
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n');
    const names = lines.find((l) => l.startsWith('TcpExt:'))?.split(' ');
    const values = lines.filter((l) => l.startsWith('TcpExt:'))[1]?.split(' ');
    const at = names?.indexOf('ListenOverflows') ?? -1;
    return at > 0 && values ? Number(values[at]) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}
