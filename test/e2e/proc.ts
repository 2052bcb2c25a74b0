// Process facts from /proc (Linux), for establishing what identifies a CLI session's process.

import fs from 'node:fs';

export interface ProcInfo {
  pid: number;
  ppid: number;
  comm: string;
  cmdline: string;
  /** Start time in clock ticks since boot (field 22 of /proc/<pid>/stat): pid + start = identity. */
  starttime: number;
}

export function procInfo(pid: number): ProcInfo | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const rest = stat.slice(close + 2).split(' ');
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
    return { pid, ppid: Number(rest[1]), comm, cmdline: cmdline.slice(0, 400), starttime: Number(rest[19]) };
  } catch {
    return undefined;
  }
}

/** pid, ppid, name and command line of a process and each ancestor. */
export function parentChain(pid: number, depth = 8): ProcInfo[] {
  const out: ProcInfo[] = [];
  let p = pid;
  for (let i = 0; i < depth && p > 1; i++) {
    const info = procInfo(p);
    if (!info) break;
    out.push(info);
    p = info.ppid;
  }
  return out;
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
