/**
 * Performance targets by store: issue 5's for the embedded SQLite store; on PostgreSQL issue 7
 * sets the dm latency only, and its other figures are shown without a target. Correctness
 * figures (errors, lost, duplicates, order) are held to 0 on both.
 */
import { ge, le, type Target } from './report.js';

export interface PerfTargets {
  dmP50Ms?: number;
  dmP99Ms?: number;
  broadcastP99Ms?: number;
  /** Back-to-back dms with calls in flight. */
  acceptedRate?: number;
  /** Last accepted send to last delivery. */
  tailMs?: number;
  /** 20 idle sessions for 30 s (scaled to the run's sizes). */
  idleCpuS?: number;
  rssMb?: number;
  startMs?: number;
}

export const TARGETS: Record<'sqlite' | 'postgres', PerfTargets> = {
  sqlite: { dmP50Ms: 3, dmP99Ms: 15, broadcastP99Ms: 25, acceptedRate: 3000, tailMs: 50, idleCpuS: 0.1, rssMb: 65, startMs: 300 },
  postgres: { dmP50Ms: 10, dmP99Ms: 30 },
};

export const atMost = (v?: number): Target | undefined => (v === undefined ? undefined : le(v));
export const atLeast = (v?: number): Target | undefined => (v === undefined ? undefined : ge(v));
