/**
 * One agent session on the bus, as its server process runs it: its identity (identity.ts), its
 * delivery loop (delivery.ts), what it reads (reads.ts), its side of the permission relay
 * (relay.ts), and the timers that keep it honest: the fallback poll, the heartbeat across
 * hosts, the check that its agent process is still there.
 */
import { CORE, type BusCore } from '../core.js';
import type { Bus } from '../bus.js';
import { GroupCommit } from '../group-commit.js';
import { QueueQuota } from '../quota.js';
import { RateLimit } from '../rate.js';
import type { VerdictResult } from '../relay.js';
import { commitSends, prepareBroadcast, prepareDm, type BroadcastResult, type SendResult } from '../send.js';
import type { Sender, SenderPolicy } from '../sender.js';
import type { BroadcastArgs, DmArgs } from '../validate.js';
import type { DeliveryPath, PermissionRow, Presence, SessionRow } from '../../store/types.js';
import { agentDir, Bell } from '../../wake/bell.js';
import { CodexQueue, type CodexThreadState } from '../../wake/codex-queue.js';
import { pidAlive } from '../liveness.js';
import { setPresence } from '../hook.js';
import { Delivery, type DeliveryTarget } from './delivery.js';
import { claimAtStart, rejoin, rename, type RegisterResult, type StartOptions } from './identity.js';
import * as reads from './reads.js';
import { requestPermission, type PermissionRequest } from './relay.js';

const EXPIRE_EVERY_MS = 60_000;
/** Every 6th fallback poll (30 s at the default 5 s) rings the bell again while mail waits. */
const RERING_EVERY_TICKS = 6;

/** The states the hooks write (hooks/presence.sh), as the store keeps them. */
const PRESENCE: Record<string, Presence | undefined> = {
  working: 'working',
  idle: 'idle',
  approval: 'approval',
  waiting_for_approval: 'approval',
  offline: 'offline',
};
/** `last_active_at` (shown by who) is written at most this often. */
const TOUCH_EVERY_MS = 5_000;

export type { StartOptions, RegisterResult, DeliveryTarget, PermissionRequest };

/** How a Codex session's server wakes its idle thread (`codex queue`): the binary, its environment, the doorbell. */
export interface CodexWakeOptions {
  bin: string;
  env: NodeJS.ProcessEnv;
  doorbell: string;
}

export class Session {
  private stopped = false;
  /** The agent's bell and presence folder, where its hooks can carry mail in (the hook path). */
  private bell?: Bell;
  /** What wakes the idle agent when mail waits: the bell (Claude Code, a Gemini waiter), or Codex's queue. */
  private waker?: { ring(): void };
  /** Codex's queue, when this session wakes its thread that way. */
  codexQueue?: CodexQueue;
  private timers: NodeJS.Timeout[] = [];
  private lastExpire = 0;
  private ticks = 0;
  private lastActiveWrite = 0;
  /** A heartbeat is under way (see heartbeat). */
  private beating = false;
  /** The presence writes in flight, one after another (see presence()). */
  private presenceQueue: Promise<void> = Promise.resolve();
  private readonly rate: RateLimit;
  private readonly registerRate: RateLimit;
  private readonly quota: QueueQuota;
  private readonly sends: GroupCommit;
  private readonly delivery: Delivery;
  private readonly core: BusCore;
  /** Called when the process must end (orphaned: its agent process is gone). */
  onOrphaned: () => void = () => {};
  /** Called after another host ended this session and it joined again (possibly under a variant). */
  onRejoined: (previous: string, now: string) => void = () => {};
  /** Failures of background work (delivery, poll, heartbeat, activity marks): reported, never thrown. */
  onError: (e: unknown) => void = () => {};

  private constructor(
    readonly bus: Bus,
    public row: SessionRow,
    private readonly startPpid: number,
  ) {
    this.core = bus[CORE];
    this.rate = new RateLimit(this.core.config.rateLimit, this.core.now());
    this.registerRate = new RateLimit(this.core.config.registerLimit, this.core.now());
    this.quota = new QueueQuota(this.core, () => this.row.id);
    this.sends = new GroupCommit((batch) => commitSends(this.core, batch));
    this.delivery = new Delivery(
      this.core,
      () => this.row,
      (e) => {
        this.lastSeen = undefined;
        this.onError(e);
      },
    );
  }

  /** Claims the launch name and starts listening for rings and polling; nothing is delivered before activate(). */
  static async start(bus: Bus, o: StartOptions & { codexWake?: CodexWakeOptions }): Promise<Session> {
    const core = bus[CORE];
    const row = await claimAtStart(core, o);
    const session = new Session(bus, row, o.ppid ?? process.ppid);
    // An agent whose hooks can carry mail in gets a bell (rung while mail waits) and reports its
    // presence through the same folder.
    if (row.agent === 'claude' && row.agent_pid) {
      const bell = new Bell(agentDir(core.config.home, row.agent_pid));
      bell.prepare();
      const report = (state: string) => void session.presence(state).catch((e) => session.onError(e));
      bell.watchPresence(report);
      session.bell = bell;
      session.waker = bell;
      // A state written before the server was up (SessionStart runs beside its start); else a
      // Claude Code that has just started waits for its user (a prompt would say working).
      report(bell.presence() ?? 'idle');
    } else if (row.agent === 'gemini' && row.agent_pid) {
      // Gemini CLI's hooks write presence into the store themselves; the bell is what a
      // `cc-dm wait` the model started watches.
      const bell = new Bell(agentDir(core.config.home, row.agent_pid));
      bell.prepare();
      session.bell = bell;
      session.waker = bell;
      await session.presence('idle');
    } else if (row.agent === 'codex') {
      if (o.codexWake) {
        const w = o.codexWake;
        session.codexQueue = new CodexQueue(
          w.bin,
          w.env,
          w.doorbell,
          () => session.codexState(),
          (e) => session.onError(e),
        );
        session.waker = session.codexQueue;
      }
      await session.presence(o.presence ?? 'idle');
    }
    await core.doorbell.listen(
      row.id,
      () => session.row.name_key,
      () => session.delivery.kick(),
    );
    session.startTimers();
    return session;
  }

  get name(): string {
    return this.row.name!;
  }
  get key(): string {
    return this.row.name_key!;
  }

  policy(): SenderPolicy {
    const c = this.core.config;
    return { launchRole: c.role, broadcastAllowedRoles: c.broadcastAllowedRoles, dmAllowlist: c.dmAllowlist, dmBlocklist: c.dmBlocklist };
  }

  sender(): Sender {
    return { kind: 'session', session: this.row, policy: this.policy() };
  }

  /** Called once the client's handshake is done: from now on mail goes to `target` (if it can be seen). */
  async activate(target: DeliveryTarget, canPush: boolean, client: string | null): Promise<void> {
    // The channel where pushes are seen; else the hook path if the agent's hooks have bound
    // (they may have, before this handshake), else pull until they do.
    const id = this.row.id;
    const stored = await this.core.store.getSession(id);
    const path: DeliveryPath = canPush ? 'channel' : stored?.path === 'hook' ? 'hook' : 'pull';
    // A heartbeat may have rejoined under a new row meanwhile (a process frozen before its
    // handshake ended): the stored row is then the ended one, and must not replace the new one.
    this.row = { ...(stored && this.row.id === id ? stored : this.row), can_push: canPush, client, path };
    await this.core.store.updateSession(this.row.id, { can_push: canPush, client, path });
    this.delivery.activate(target, canPush, this.waker);
  }

  /** What Codex's queue needs to decide on a doorbell: the thread, what its hooks last said, the mail waiting. */
  private async codexState(): Promise<CodexThreadState | undefined> {
    const row = await this.core.store.getSession(this.row.id);
    if (!row || row.ended_at !== null) return undefined;
    return {
      thread: row.agent_session,
      presence: row.presence,
      presenceAt: row.presence_at,
      wake: row.wake,
      pending: await this.core.store.countPending(this.key, this.core.now()),
    };
  }

  /**
   * The thread a Codex tool call named (`_meta.threadId`): recorded when the session has none yet
   * (a Codex that runs one thread, before its first hook).
   */
  async noteThread(thread: string): Promise<void> {
    if (this.row.agent !== 'codex' || this.row.agent_session === thread) return;
    const stored = await this.core.store.getSession(this.row.id);
    if (stored?.agent_session) {
      this.row = { ...this.row, agent_session: stored.agent_session };
      return;
    }
    await this.core.store.updateSession(this.row.id, { agent_session: thread });
    this.row = { ...this.row, agent_session: thread };
  }

  /**
   * The agent's hooks say what it is doing (working, idle, waiting for approval, offline). One
   * write at a time, in the order the hooks wrote: two in flight on a pool of connections can
   * commit out of order and leave the older state in the store (a burst test on PostgreSQL: 1 run in 6).
   */
  presence(state: string): Promise<void> {
    const run = this.presenceQueue.then(async () => {
      const presence = PRESENCE[state];
      if (!presence || presence === this.row.presence) return;
      await setPresence(this.core, this.row, presence);
      this.row = { ...this.row, presence, presence_at: this.core.now() };
    });
    this.presenceQueue = run.catch(() => {});
    return run;
  }

  private startTimers(): void {
    const cfg = this.core.config;
    const poll = setInterval(() => this.tick(), cfg.pollMs);
    poll.unref();
    this.timers.push(poll);
    // Every store: across machines the heartbeat is liveness; on one machine it is the rule that
    // ends a session whose process cannot be read (another user's, under hidepid).
    const hb = setInterval(() => this.heartbeat().catch((e) => this.onError(e)), this.core.heartbeat().periodMs);
    hb.unref();
    this.timers.push(hb);
  }

  private async heartbeat(): Promise<void> {
    // One at a time: a process resumed after a freeze (SIGSTOP, a suspended laptop) fires its
    // interval again while the last beat's rejoin is still under way, and two rejoins of the same
    // ended row would leave a second live session behind (seen under load on PostgreSQL).
    if (this.beating) return;
    this.beating = true;
    try {
      const store = this.core.store;
      // Liveness runs on real time, not the bus's clock (which tests move to backdate mail).
      await store.updateSession(this.row.id, { heartbeat_at: this.core.now() });
      const row = await store.getSession(this.row.id);
      if (!row || row.ended_at === null || this.stopped) return;
      const previous = this.name;
      this.row = await rejoin(this.core, this.row);
      this.onRejoined(previous, this.name);
      this.delivery.kick();
    } finally {
      this.beating = false;
    }
  }

  /** The fallback poll: correctness when a ring was lost, expiry, and the orphan check. */
  private tick(): void {
    if (process.ppid !== this.startPpid) {
      this.onOrphaned();
      return;
    }
    const now = this.core.now();
    if (now - this.lastExpire >= EXPIRE_EVERY_MS) {
      this.lastExpire = now;
      this.core.store.expireDue(now).catch((e) => this.onError(e));
    }
    this.pollIfChanged().catch((e) => this.onError(e));
    // On the hook path a ring may be lost before the agent watches its bell (it starts watching
    // when its SessionStart hook has answered): mail still waiting is rung again now and then.
    if (this.waker && ++this.ticks % RERING_EVERY_TICKS === 0) {
      this.delivery.kick();
      if (this.row.agent === 'gemini') this.checkWaiter().catch((e) => this.onError(e));
    }
  }

  /**
   * Mail can only be waiting if someone committed since the last look: where the store (or the
   * doorbell) can tell that cheaply, an idle poll costs one counter read instead of two queries
   * (20 idle sessions spent 0.06-0.26 CPU-s per 30 s polling every 5 s; nothing with the counter).
   */
  private lastSeen: number | undefined;
  private async pollIfChanged(): Promise<void> {
    const seen = (await this.core.store.changeCounter()) ?? this.core.doorbell.changes();
    if (seen !== undefined) {
      if (seen === this.lastSeen) return;
      this.lastSeen = seen;
    }
    this.delivery.kick();
  }

  /** A Gemini waiter that died without a word (killed) no longer counts as one. */
  private async checkWaiter(): Promise<void> {
    const row = await this.core.store.getSession(this.row.id);
    if (row?.wake === 'waiter' && (row.wake_pid === null || !pidAlive(row.wake_pid, null)))
      await this.core.store.updateSession(this.row.id, { wake: 'none', wake_pid: null });
  }

  /**
   * Marks activity (for who), written at most every few seconds; a failure is reported, not
   * thrown. Written after the call's answer has left (setImmediate): a call that comes seconds
   * after the previous one, as a model's do, otherwise paid for a second write transaction
   * before its own (0.2-0.5 ms of the 1.2-2 ms a dm took after 3 s of quiet).
   */
  touch(): void {
    const now = this.core.now();
    if (now - this.lastActiveWrite < TOUCH_EVERY_MS) return;
    this.lastActiveWrite = now;
    this.row.last_active_at = now;
    setImmediate(() => this.core.store.updateSession(this.row.id, { last_active_at: now }).catch((e) => this.onError(e)));
  }

  // --- tools ----------------------------------------------------------------------------------

  async register(args: { name: string; role: string; project?: string }): Promise<RegisterResult> {
    const r = await rename(this.core, this.row, args, () =>
      this.registerRate.take(this.core.now(), 'register calls', 'CC_DM_REGISTER_LIMIT'),
    );
    this.row = r.row;
    return r.result;
  }

  dm(args: DmArgs): Promise<SendResult | VerdictResult> {
    this.rate.take(this.core.now());
    return this.sends.submit(async () => this.quota.admit(await prepareDm(this.core, this.sender(), args)));
  }

  broadcast(args: BroadcastArgs): Promise<BroadcastResult> {
    this.rate.take(this.core.now());
    return this.sends.submit(async () => this.quota.admit(await prepareBroadcast(this.core, this.sender(), args)));
  }

  who(): Promise<reads.WhoResult> {
    return reads.who(this.bus, this.row);
  }

  status(messageId: string) {
    return reads.status(this.bus, this.row, messageId);
  }

  history(args: { peer?: string; thread_id?: string; query?: string; limit?: number }): Promise<reads.HistoryResult> {
    return reads.history(this.bus, this.row, args);
  }

  inbox(limit?: number): Promise<reads.InboxResult> {
    return reads.inbox(this.core, this.row, limit);
  }

  waitingNote(): Promise<string | undefined> {
    return reads.waitingNote(this.core, this.row);
  }

  // --- permission relay -------------------------------------------------------------------

  async permissionRequest(p: PermissionRequest): Promise<PermissionRow> {
    const perm = await requestPermission(this.core, this.row, this.sender(), p);
    this.delivery.verdictsAwaited++;
    return perm;
  }

  async stop(reason: string): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.delivery.stop();
    for (const t of this.timers) clearInterval(t);
    this.bell?.close();
    await this.core.doorbell.close();
    await this.presence('offline').catch((e) => this.onError(e));
    await this.core.store.endSession(this.row.id, reason, this.core.now());
  }
}
