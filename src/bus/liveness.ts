/**
 * Liveness is the process, not a timer: a session is alive while its server process and the
 * Claude Code process that spawned it are both alive. Start times from /proc guard against pid
 * reuse. Sessions on other hosts (PostgreSQL) are alive while their heartbeat is fresh.
 */
import { readFileSync } from 'node:fs';
import type { SessionRow } from '../store/types.js';

/** The fields of /proc/<pid>/stat after the command name (field 3 onwards); null where /proc is absent. */
export function statFields(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** Field 22 of /proc/<pid>/stat: start time in clock ticks since boot; null where /proc is absent. */
export function processStart(pid: number): string | null {
  return statFields(pid)?.[19] ?? null;
}

/** Field 4 of /proc/<pid>/stat: the parent pid. */
export function parentOf(pid: number): number | undefined {
  const ppid = statFields(pid)?.[1];
  return ppid === undefined ? undefined : Number(ppid);
}

/**
 * Start times confirmed lately, by pid. A dm checks its recipient's two processes; reading /proc
 * for both cost about 60 µs per dm at 2,000 dms. Within a second of a confirmation, a process
 * that still exists is the same one (pids are not reused that fast); a dead one fails kill(0).
 */
const CONFIRMED_FOR_MS = 1_000;
const confirmed = new Map<number, { start: string; at: number }>();

export function pidAlive(pid: number, start: string | null, now = Date.now()): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    // EPERM: it exists but belongs to another user.
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (start === null) return true;
  const seen = confirmed.get(pid);
  if (seen && seen.start === start && now - seen.at < CONFIRMED_FOR_MS) return true;
  const current = processStart(pid);
  if (current === null) return true;
  if (current !== start) return false;
  if (confirmed.size >= 1024) confirmed.clear();
  confirmed.set(pid, { start, at: now });
  return true;
}

export interface LivenessPolicy {
  host: string;
  heartbeatExpiryMs: number;
}

export function isSessionAlive(s: SessionRow, policy: LivenessPolicy, now = Date.now()): boolean {
  if (s.ended_at !== null) return false;
  if (s.host !== policy.host) return now - s.heartbeat_at <= policy.heartbeatExpiryMs;
  // pid 1 as parent means the server was orphaned (its Claude Code is gone).
  if (s.ppid <= 1) return pidAlive(s.pid, s.pid_start, now);
  return pidAlive(s.pid, s.pid_start, now) && pidAlive(s.ppid, s.ppid_start, now);
}
