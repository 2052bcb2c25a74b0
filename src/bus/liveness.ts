/**
 * Liveness is the process, not a timer: a session is alive while its server process and the
 * Claude Code process that spawned it are both alive. Start times from /proc guard against pid
 * reuse. Which sessions are judged by their process is decided by where they run (the kernel's
 * boot and pid namespace, recorded with the row), never by CC_DM_HOST, which is only a label.
 *
 * - On a store only one machine uses (SQLite), every session is judged by its process.
 * - On a store shared by several machines (PostgreSQL), a session elsewhere is alive while its
 *   heartbeat is fresh by its OWN recorded period and expiry (with a floor): no judge's settings
 *   decide whether someone else is alive. A session here must have both a live process and a
 *   fresh heartbeat, so every judge, here or elsewhere, comes to the same verdict.
 * - A process that exists but whose /proc entry cannot be read (another user's, under hidepid)
 *   is unknown: it is alive while its heartbeat is fresh, and dead once that runs out.
 */
import type { SessionRow } from '../store/types.js';
import { hasProc, processStart } from '../procfs.js';

export { statFields, processStart, parentOf } from '../procfs.js';

/** A session's heartbeat never counts as fresh for less than this, whatever it recorded. */
export const EXPIRY_FLOOR_MS = 1_000;
/** Rows written before sessions recorded their own expiry are judged by the old default. */
export const EXPIRY_DEFAULT_MS = 30_000;

/**
 * Start times confirmed lately, by pid. A dm checks its recipient's two processes; reading /proc
 * for both cost about 60 µs per dm at 2,000 dms. Within a second of a confirmation, a process
 * that still exists is the same one (pids are not reused that fast); a dead one fails kill(0).
 */
const CONFIRMED_FOR_MS = 1_000;
const confirmed = new Map<number, { start: string; at: number }>();

export type ProcessState = 'alive' | 'dead' | 'unknown';

export function processState(pid: number, start: string | null, now = Date.now()): ProcessState {
  if (!Number.isInteger(pid) || pid <= 0) return 'dead';
  try {
    process.kill(pid, 0);
  } catch (e) {
    // EPERM: it exists but belongs to another user.
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return 'dead';
  }
  // Recorded without a start time (no /proc where it ran): the pid is all there is.
  if (start === null) return 'alive';
  const seen = confirmed.get(pid);
  if (seen && seen.start === start && now - seen.at < CONFIRMED_FOR_MS) return 'alive';
  const current = processStart(pid);
  // It exists, but its entry cannot be read: hidepid, or another user's process in a hardened /proc.
  if (current === null) return hasProc() ? 'unknown' : 'alive';
  if (current !== start) return 'dead';
  if (confirmed.size >= 1024) confirmed.clear();
  confirmed.set(pid, { start, at: now });
  return 'alive';
}

/** Kept for callers that only ask yes or no: unknown counts as alive here (see isSessionAlive for the rule that ends). */
export function pidAlive(pid: number, start: string | null, now = Date.now()): boolean {
  return processState(pid, start, now) !== 'dead';
}

export interface LivenessPolicy {
  /** Where the judge runs (procfs.machineId()). */
  machine: string;
  /** Sessions on other machines share the store: they are judged by heartbeat. */
  multiHost: boolean;
}

/** How long a session's heartbeat stays fresh, by what that session recorded about itself. */
export function expiryOf(s: Pick<SessionRow, 'heartbeat_expiry_ms'>): number {
  return Math.max(s.heartbeat_expiry_ms ?? EXPIRY_DEFAULT_MS, EXPIRY_FLOOR_MS);
}

export function isSessionAlive(s: SessionRow, policy: LivenessPolicy, now = Date.now()): boolean {
  if (s.ended_at !== null) return false;
  const fresh = now - s.heartbeat_at <= expiryOf(s);
  // Elsewhere (a row recorded on another machine or pid namespace): only its heartbeat tells.
  if (s.machine !== null && s.machine !== policy.machine) return fresh;
  const own = processState(s.pid, s.pid_start, now);
  // pid 1 as parent means the server was orphaned (its Claude Code is gone).
  const parent = s.ppid <= 1 ? 'alive' : processState(s.ppid, s.ppid_start, now);
  if (own === 'dead' || parent === 'dead') return false;
  if (own === 'unknown' || parent === 'unknown') return fresh;
  return policy.multiHost ? fresh : true;
}
