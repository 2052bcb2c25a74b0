/**
 * What every part of the bus works with: the store (private to src/bus/: the edges reach it
 * only through the Bus and Session APIs), the configuration, the doorbell, the log and the
 * clock, plus liveness, which every rule needs.
 *
 * Tests inject the clock to backdate instead of sleeping out a time to live.
 */
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { SessionRow, Store } from '../store/types.js';
import type { Doorbell } from '../wake/doorbell.js';
import { machineId } from '../procfs.js';
import { isSessionAlive } from './liveness.js';

export type Clock = () => number;

/** The heartbeat period on a store only one machine uses (see BusCore.heartbeat). */
const LOCAL_HEARTBEAT_MS = 60_000;

/** The key under which a Bus carries its core: only modules of src/bus/ import it (a lint rule). */
export const CORE = Symbol('cc-dm bus core');

export class BusCore {
  constructor(
    readonly store: Store,
    readonly config: Config,
    readonly doorbell: Doorbell,
    readonly log: Logger,
    readonly now: Clock = Date.now,
    /**
     * Where this process runs: whose pids it can check (procfs.machineId(), never a launch's
     * claim). Only the in-process tests give another, to stand for sessions on other machines.
     */
    readonly machine: string = machineId(),
  ) {}

  /**
   * This session's heartbeat: how often it beats, and the expiry it records for others to judge
   * it by. Across machines it is liveness itself (CC_DM_HEARTBEAT_MS, CC_DM_HEARTBEAT_EXPIRY_MS).
   * On one machine's store the process is, and the heartbeat only ends a session whose process a
   * judge cannot read: once a minute is enough there, and keeps idle sessions idle.
   */
  heartbeat(): { periodMs: number; expiryMs: number } {
    const cfg = this.config;
    if (this.store.capabilities.multiHost) return { periodMs: cfg.heartbeatMs, expiryMs: cfg.heartbeatExpiryMs };
    const periodMs = Math.max(cfg.heartbeatMs, LOCAL_HEARTBEAT_MS);
    return { periodMs, expiryMs: Math.max(cfg.heartbeatExpiryMs, 3 * periodMs) };
  }

  /** Heartbeats are stamped and judged on the bus's clock, which tests move forward to backdate. */
  isAlive = (s: SessionRow): boolean =>
    isSessionAlive(s, { machine: this.machine, multiHost: this.store.capabilities.multiHost }, this.now());

  /** Open sessions that are really alive; dead ones (killed, crashed) are marked ended on the way. */
  async liveSessions(): Promise<SessionRow[]> {
    const open = await this.store.openSessions();
    const live: SessionRow[] = [];
    for (const s of open) {
      if (this.isAlive(s)) live.push(s);
      else await this.store.endSession(s.id, 'process gone', this.now());
    }
    return live;
  }

  /**
   * The live session holding a name, if any. Only its holder's process is checked, not every open
   * session's: a dm then costs two /proc reads instead of two per session on the machine.
   */
  async liveHolder(key: string): Promise<SessionRow | undefined> {
    return this.checkHolder(await this.store.holderOf(key));
  }

  /** The holder if its processes are alive; a dead one is marked ended on the way. */
  async checkHolder(s: SessionRow | undefined): Promise<SessionRow | undefined> {
    if (!s || this.isAlive(s)) return s;
    await this.store.endSession(s.id, 'process gone', this.now());
    return undefined;
  }
}
