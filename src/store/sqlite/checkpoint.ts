/**
 * When the WAL is copied back into the database file (a checkpoint). SQLite's default runs one
 * inside the commit that takes the WAL past 1,000 pages, in whichever process made it: one commit
 * in about a hundred (a dm writes about 9 pages) then took 1.3-7 ms instead of 0.07 ms (the page
 * copies and an fsync), which was the p99 of a dm's round trip, and longer on a large file.
 *
 * Here a connection that has written `afterWrites` times since its last checkpoint checkpoints
 * once it has been `idleMs` without writing (PASSIVE: it never waits for, or blocks, another
 * process's readers and writers; a checkpoint already running elsewhere is left to finish). So
 * checkpoints fall in the gaps between a session's sends. SQLite's own checkpoint stays as the
 * backstop for a store that is never idle, at `backstopPages` (a larger WAL, and a stall that
 * many times rarer).
 */
import type Database from 'better-sqlite3';

export interface CheckpointPolicy {
  afterWrites: number;
  idleMs: number;
  backstopPages: number;
}

/** About 900 pages written by this process (9 per dm), checkpointed after 50 ms without a write; 16 MB of WAL at most. */
export const CHECKPOINT_POLICY: CheckpointPolicy = { afterWrites: 100, idleMs: 50, backstopPages: 4_000 };

export class IdleCheckpoint {
  private writes = 0;
  private timer?: NodeJS.Timeout;
  /** Checkpoints this connection ran (for tests and the log). */
  ran = 0;

  constructor(
    private readonly db: Database.Database,
    private readonly policy: CheckpointPolicy = CHECKPOINT_POLICY,
  ) {
    db.pragma(`wal_autocheckpoint = ${policy.backstopPages}`);
  }

  /** After each write transaction of this connection. */
  wrote(): void {
    if (++this.writes < this.policy.afterWrites) return;
    if (this.timer) this.timer.refresh();
    else {
      this.timer = setTimeout(() => this.run(), this.policy.idleMs);
      this.timer.unref(); // never keeps a process alive: closing the last connection checkpoints anyway
    }
  }

  /** Checkpoints now (a bulk writer, between its transactions), whatever the count. */
  now(): void {
    clearTimeout(this.timer);
    this.run();
  }

  private run(): void {
    this.timer = undefined;
    if (!this.db.open) return;
    try {
      this.db.pragma('wal_checkpoint(PASSIVE)');
      this.writes = 0;
      this.ran++;
    } catch {
      // Busy (another process is checkpointing) or anything else: the next idle gap, or the
      // backstop, checkpoints instead. Nothing depends on this one.
      this.wrote();
    }
  }

  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
