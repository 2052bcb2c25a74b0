/**
 * What a session costs the machine, read from /proc: CPU time (utime + stime, in clock ticks)
 * and resident memory of a process and everything it started (its process tree).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { statFields } from '../src/procfs.js';

let tck: number | undefined;

/** Clock ticks per second (`getconf CLK_TCK`, 100 on Linux almost everywhere). */
export function clockTicks(): number {
  if (tck === undefined) {
    try { tck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100; } catch { tck = 100; }
  }
  return tck;
}

/** The pid and all its descendants alive now. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const f = statFields(Number(d));
    if (!f) continue;
    const ppid = Number(f[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(d));
    children.set(ppid, list);
  }
  const out: number[] = [];
  const todo = [root];
  while (todo.length) {
    const p = todo.pop()!;
    out.push(p);
    todo.push(...(children.get(p) ?? []));
  }
  return out;
}

/** utime + stime (+ reaped children's) of one process, in ticks; 0 if it is gone. */
export function cpuTicks(pid: number): number {
  const f = statFields(pid);
  if (!f) return 0;
  // fields 14-17: utime, stime, cutime, cstime
  return Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
}

/** Resident set size of one process, in KiB. */
export function rssKb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

export function treeCpuSeconds(pids: readonly number[]): number {
  return pids.reduce((s, p) => s + cpuTicks(p), 0) / clockTicks();
}

export function treeRssMb(root: number): number {
  return processTree(root).reduce((s, p) => s + rssKb(p), 0) / 1024;
}

/**
 * Time on CPU of every thread of one process, in seconds, from /proc/<pid>/task/<tid>/schedstat
 * (nanoseconds, exact), where utime + stime are counted in 10 ms ticks by sampling: a server that
 * wakes for 200 µs every 5 s shows as a whole tick now and then, or not at all. Threads that
 * ended are not counted (0 if the process is gone).
 */
export function schedSeconds(pid: number): number {
  let ns = 0;
  try {
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      try { ns += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]); } catch { /* thread ended */ }
    }
  } catch { /* gone */ }
  return ns / 1e9;
}
