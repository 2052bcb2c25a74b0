/**
 * One channel server's session: its identity (claimed at start), its mailbox drain (push, then
 * mark delivered), the fallback poll, and the session's side of the permission relay.
 */
import { basename } from 'node:path';
import { randomBytes } from 'node:crypto';
import { CcDmError } from '../errors.js';
import type { Behavior, PermissionRow, SessionRow, Trace } from '../store/types.js';
import { Bus, type Sender, type SenderPolicy } from './bus.js';
import { claimRules } from './claim.js';
import { sessionId } from './ids.js';
import { processStart } from './liveness.js';
import { checkName, checkProject, checkRole, nameKey, RESERVED_NAMES } from './names.js';
import type { BroadcastArgs, DmArgs } from './validate.js';
import { RateLimit } from './rate.js';
import { GroupCommit } from './group-commit.js';

/** Where a session's mail goes: the channel server's notifications. */
export interface PushTarget {
  pushMessage(content: string, meta: Record<string, string>): Promise<void>;
  pushVerdict(requestId: string, behavior: Behavior): Promise<void>;
}

export interface SessionStart {
  cwd: string;
  canPush: boolean;
  client: string | null;
}

const DRAIN_BATCH = 200;
const EXPIRE_EVERY_MS = 60_000;

/** The meta of a push: the sender's validated fields first, the bus's own written over them. */
export function pushMeta(m: Trace['message'], recipientName: string): Record<string, string> {
  const meta: Record<string, string> = {};
  if (m.priority) meta.priority = m.priority;
  if (m.message_type) meta.message_type = m.message_type;
  if (m.thread_id) meta.thread_id = m.thread_id;
  if (m.kind !== 'dm') meta.kind = m.kind;
  Object.assign(meta, {
    from_session: m.from_name,
    to_session: recipientName,
    message_id: m.id,
    sent_at: new Date(m.sent_at).toISOString(),
    sender_kind: m.sender_kind,
  });
  return meta;
}

function autoName(cwd: string): string {
  const base = basename(cwd).replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 40) || 'session';
  return `${base}-${randomBytes(2).toString('hex')}`;
}

export class Session {
  private draining = false;
  private again = false;
  private stopped = false;
  /** Nothing is pushed before the client has finished its handshake. */
  private active = false;
  private timers: NodeJS.Timeout[] = [];
  private lastExpire = 0;
  private lastActiveWrite = 0;
  private readonly rate: RateLimit;
  private readonly sends: GroupCommit;
  /**
   * Permission requests of this session not yet answered back to it: only then does a drain ask
   * the store for verdicts (one query less per message otherwise).
   */
  private verdictsAwaited = 0;
  /** Called when the process must end (orphaned: its Claude Code is gone). */
  onOrphaned: () => void = () => {};
  onError: (e: unknown) => void = () => {};

  private constructor(readonly bus: Bus, public row: SessionRow, private readonly target: PushTarget, private readonly startPpid: number) {
    this.rate = new RateLimit(bus.config.rateLimit);
    this.sends = new GroupCommit((batch) => bus.commit(batch));
  }

  static async start(bus: Bus, target: PushTarget, opts: SessionStart): Promise<Session> {
    const cfg = bus.config;
    const wanted = cfg.sessionName ?? autoName(opts.cwd);
    if (RESERVED_NAMES.has(nameKey(wanted))) {
      throw new CcDmError('E_CONFIG', `CC_DM_SESSION_NAME=${wanted} is a reserved word (${[...RESERVED_NAMES].join(', ')}); choose another name.`);
    }
    const id = sessionId();
    const now = Date.now();
    const result = await bus.store.claimName({
      sessionId: id,
      name: wanted,
      source: cfg.sessionName ? 'env' : 'auto',
      newSession: {
        id, role: cfg.role ?? null, project: cfg.project ?? null, cwd: opts.cwd, host: cfg.host,
        pid: process.pid, ppid: process.ppid, pid_start: processStart(process.pid), ppid_start: processStart(process.ppid),
        can_push: opts.canPush, client: opts.client, doorbell: bus.doorbell.addressFor(id),
        started_at: now, last_active_at: now, heartbeat_at: now,
      },
    }, claimRules(cfg.sessionName ? 'env' : 'auto'), bus.isAlive);
    if (!result.ok) throw new CcDmError(result.code, result.message);
    const session = new Session(bus, result.session, target, process.ppid);
    await bus.doorbell.listen(id, () => session.row.name_key, () => session.kick());
    session.startTimers();
    return session;
  }

  get name(): string { return this.row.name!; }
  get key(): string { return this.row.name_key!; }

  policy(): SenderPolicy {
    const c = this.bus.config;
    return { broadcastAllowedRoles: c.broadcastAllowedRoles, dmAllowlist: c.dmAllowlist, dmBlocklist: c.dmBlocklist };
  }

  sender(): Sender {
    return { kind: 'session', session: this.row, config: this.policy() };
  }

  private startTimers(): void {
    const cfg = this.bus.config;
    const poll = setInterval(() => this.tick(), cfg.pollMs);
    poll.unref();
    this.timers.push(poll);
    if (this.bus.store.capabilities.multiHost) {
      const hb = setInterval(() => this.heartbeat().catch((e) => this.onError(e)), cfg.heartbeatMs);
      hb.unref();
      this.timers.push(hb);
    }
  }

  /**
   * Across machines a session is alive while its heartbeat is fresh. One that was frozen (or cut
   * off from the database) past the expiry was ended by another host, and its name may have been
   * taken back by a successor: it must not go on receiving and sending as that name. So it joins
   * again as a new session, under the launch rules: its name if nobody took it, else a variant.
   */
  private async heartbeat(): Promise<void> {
    await this.bus.store.updateSession(this.row.id, { heartbeat_at: Date.now() });
    const row = await this.bus.store.getSession(this.row.id);
    if (!row || row.ended_at === null || this.stopped) return;
    const previous = this.name;
    const id = sessionId();
    const now = Date.now();
    const { name, name_key: _k, name_source: _s, wanted_name: _w, ended_at: _e, end_reason: _r, ...rest } = this.row;
    const result = await this.bus.store.claimName({
      sessionId: id, name: this.row.wanted_name ?? previous,
      source: this.row.name_source === 'variant' ? (this.bus.config.sessionName ? 'env' : 'auto') : (this.row.name_source ?? 'auto'),
      newSession: { ...rest, id, doorbell: this.bus.doorbell.addressFor(id), started_at: now, last_active_at: now, heartbeat_at: now },
    }, claimRules('env'), this.bus.isAlive);
    if (!result.ok) throw new CcDmError(result.code, result.message);
    this.row = result.session;
    this.onRejoined(previous, this.name);
    this.kick();
  }

  /** Called after a session ended by another host joined again (possibly under a variant). */
  onRejoined: (previous: string, now: string) => void = () => {};

  /** The fallback poll: correctness when a ring was lost, expiry, and the orphan check. */
  private tick(): void {
    if (process.ppid !== this.startPpid) {
      this.onOrphaned();
      return;
    }
    const now = Date.now();
    if (now - this.lastExpire >= EXPIRE_EVERY_MS) {
      this.lastExpire = now;
      this.bus.store.expireDue(now).catch((e) => this.onError(e));
    }
    this.pollIfChanged().catch((e) => this.onError(e));
  }

  /**
   * Mail can only be waiting if someone committed since the last look: where the store can tell
   * that cheaply, an idle poll costs one counter read instead of two queries (20 idle sessions
   * spent 0.06-0.26 CPU-s per 30 s polling every 5 s; nothing with the counter).
   */
  private lastSeen: number | undefined;
  private async pollIfChanged(): Promise<void> {
    if (this.bus.store.changeCounter) {
      const seen = await this.bus.store.changeCounter();
      if (seen === this.lastSeen) return;
      this.lastSeen = seen;
    }
    this.kick();
  }

  /** Starts a drain, or asks the running one to go round again (rings coalesce). */
  kick(): void {
    if (this.stopped || !this.active) return;
    if (this.draining) { this.again = true; return; }
    // A failed drain is tried again at the next poll even if nothing new is committed.
    this.drain().catch((e) => { this.lastSeen = undefined; this.onError(e); });
  }

  /** Pushes waiting mail in order, marking each delivered only after its notification is written. */
  async drain(): Promise<void> {
    if (this.draining) { this.again = true; return; }
    this.draining = true;
    try {
      do {
        this.again = false;
        if (this.verdictsAwaited > 0) {
          for (const v of await this.bus.store.verdictsToNotify(this.row.id)) {
            await this.target.pushVerdict(v.request_id, v.state as Behavior);
            await this.bus.store.markVerdictNotified(v.id, Date.now());
            this.verdictsAwaited--;
          }
        }
        if (!this.row.can_push) continue;
        for (;;) {
          const batch = await this.bus.store.pendingFor(this.key, DRAIN_BATCH, Date.now());
          for (const { message, delivery } of batch) {
            if (this.stopped) return;
            await this.target.pushMessage(message.content, pushMeta(message, this.name));
            await this.bus.store.markDelivered(message.seq, delivery.recipient_key, this.row.id, 'push', Date.now());
          }
          if (batch.length < DRAIN_BATCH) break;
        }
      } while (this.again && !this.stopped);
    } finally {
      this.draining = false;
    }
  }

  /** Called once the client's handshake is done: from now on mail is pushed (if it can be seen). */
  async setCanPush(canPush: boolean, client: string | null): Promise<void> {
    this.active = true;
    this.row = { ...this.row, can_push: canPush, client };
    await this.bus.store.updateSession(this.row.id, { can_push: canPush, client });
    this.kick();
  }

  /** Marks activity (for who), written at most every few seconds. */
  async touch(): Promise<void> {
    const now = Date.now();
    if (now - this.lastActiveWrite < 5_000) return;
    this.lastActiveWrite = now;
    this.row.last_active_at = now;
    await this.bus.store.updateSession(this.row.id, { last_active_at: now });
  }

  // --- tools ----------------------------------------------------------------------------------

  async register(args: { name: string; role: string; project?: string }): Promise<Record<string, unknown>> {
    const name = checkName(args.name);
    const role = checkRole(args.role);
    const project = args.project !== undefined ? checkProject(args.project) : this.row.project;
    const key = nameKey(name);
    if (RESERVED_NAMES.has(key)) throw new CcDmError('E_NAME_RESERVED', `"${name}" is a reserved word; pick another name.`);
    const previous = this.name;
    if (key !== this.key) {
      const r = await this.bus.store.claimName({ sessionId: this.row.id, name, source: 'register', releasing: this.key },
        claimRules('register'), this.bus.isAlive);
      if (!r.ok) throw new CcDmError(r.code, r.message);
      this.row = r.session;
    }
    await this.bus.store.updateSession(this.row.id, { role, project: project ?? null });
    this.row = { ...this.row, role, project: project ?? null };
    return {
      success: true, name: this.name, role, project: project ?? null, previous_name: previous === this.name ? undefined : previous,
      note: previous === this.name ? undefined : `"${previous}" is released: mail to it now fails with a pointer to "${this.name}". Names taken with register never carry permission-approval rights.`,
    };
  }

  dm(args: DmArgs) {
    this.rate.take();
    return this.sends.submit(() => this.bus.prepareDm(this.sender(), args));
  }

  broadcast(args: BroadcastArgs) {
    this.rate.take();
    return this.sends.submit(() => this.bus.prepareBroadcast(this.sender(), args));
  }

  async who(): Promise<Record<string, unknown>> {
    const live = await this.bus.liveSessions();
    const mine = this.row.project;
    const visible = live.filter((s) => !mine || s.project === mine || s.id === this.row.id);
    const liveKeys = new Set(live.map((s) => s.name_key));
    const offline = (await this.bus.store.listNames())
      .filter((n) => !liveKeys.has(n.key) && !n.released_to && n.key !== 'human' && (!mine || n.project === mine));
    return {
      you: this.name,
      sessions: visible.map((s) => ({
        name: s.name, role: s.role, project: s.project, cwd: s.cwd, host: s.host,
        since: new Date(s.started_at).toISOString(), last_active: new Date(s.last_active_at).toISOString(),
        can_receive_push: s.can_push, you: s.id === this.row.id || undefined,
      })),
      offline_mailboxes: offline.slice(0, 50).map((n) => n.display),
      note: 'These are cc-dm sessions: message them with this server\'s dm tool, not with Claude Code\'s built-in SendMessage.',
    };
  }

  async status(messageId: string): Promise<Record<string, unknown>> {
    const t = await this.bus.trace(messageId);
    const involved = t.message.from_key === this.key || t.deliveries.some((d) => d.recipient_key === this.key);
    if (!involved) throw new CcDmError('E_NOT_FOUND', `no message "${messageId}" sent by or to you.`);
    return traceView(t);
  }

  async history(args: { peer?: string; thread_id?: string; query?: string; limit?: number }): Promise<Record<string, unknown>> {
    const rows = await this.bus.store.history({
      participant: this.key, peer: args.peer ? nameKey(checkName(args.peer, 'peer')) : undefined,
      thread_id: args.thread_id, query: args.query, limit: args.limit ?? 20,
    });
    return {
      messages: rows.map((t) => ({
        message_id: t.message.id, from: t.message.from_name, to: t.message.to_name ?? (t.message.kind === 'broadcast' ? '(broadcast)' : null),
        sent_at: new Date(t.message.sent_at).toISOString(), thread_id: t.message.thread_id ?? undefined,
        priority: t.message.priority ?? undefined, message_type: t.message.message_type ?? undefined, content: t.message.content,
      })),
    };
  }

  /** Pulls waiting mail (for a Claude Code that does not show pushes), marking it delivered. */
  async inbox(limit = 50): Promise<Record<string, unknown>> {
    const batch = await this.bus.store.pendingFor(this.key, limit, Date.now());
    const out = [];
    for (const { message, delivery } of batch) {
      if (await this.bus.store.markDelivered(message.seq, delivery.recipient_key, this.row.id, 'pull', Date.now())) {
        out.push({ ...pushMeta(message, this.name), content: message.content });
      }
    }
    const left = await this.bus.store.countPending(this.key, Date.now());
    return { messages: out, still_waiting: left };
  }

  /** A line for tool results when mail waits that this session's Claude Code will not show. */
  async waitingNote(): Promise<string | undefined> {
    if (this.row.can_push) return undefined;
    const n = await this.bus.store.countPending(this.key, Date.now());
    return n > 0 ? `${n} message(s) wait for you: call the inbox tool to read them (this Claude Code was not started with cc-dm as a channel, so they are not pushed).` : undefined;
  }

  // --- permission relay -------------------------------------------------------------------

  async permissionRequest(p: { request_id: string; tool_name: string; description: string; input_preview: string }): Promise<PermissionRow> {
    const cfg = this.bus.config;
    const approverKey = cfg.permissionApprover ? nameKey(cfg.permissionApprover) : null;
    const perm = await this.bus.store.createPermission({
      request_id: p.request_id.toLowerCase(), requester_key: this.key, requester_name: this.name, requester_session: this.row.id,
      approver_key: approverKey, tool_name: p.tool_name, description: p.description, input_preview: p.input_preview,
      created_at: Date.now(),
    });
    this.verdictsAwaited++;
    if (approverKey && approverKey !== this.key) {
      const content = [
        `Permission request ${perm.request_id} from "${this.name}": Claude Code asks to run the tool ${p.tool_name}.`,
        p.description ? `Description: ${p.description}` : '',
        p.input_preview ? `Input: ${p.input_preview}` : '',
        `You are this session's approver. To answer, call dm with to: "${this.name}" and content exactly "yes ${perm.request_id}" to allow or "no ${perm.request_id}" to deny.`,
      ].filter(Boolean).join('\n');
      const holder = await this.bus.liveHolder(approverKey);
      const from = this.sender();
      await this.bus.perform({
        mail: this.bus.mail(from, this.bus.senderName(from), 'permission_request', cfg.permissionApprover!,
          { content, priority: 'urgent', message_type: 'question', thread_id: `perm:${perm.request_id}`, ttl_s: 3600 },
          [{ key: approverKey, display: holder?.name ?? cfg.permissionApprover! }]),
        ring: holder ? [holder] : [],
        result: () => undefined,
      });
    }
    return perm;
  }

  async stop(reason: string): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    await this.bus.doorbell.close();
    await this.bus.store.endSession(this.row.id, reason);
  }
}

export function traceView(t: Trace): Record<string, unknown> {
  const iso = (n: number | null) => (n === null ? undefined : new Date(n).toISOString());
  return {
    message_id: t.message.id, kind: t.message.kind, from: t.message.from_name, sender_kind: t.message.sender_kind,
    sent_at: iso(t.message.sent_at), expires_at: iso(t.message.expires_at), thread_id: t.message.thread_id ?? undefined,
    recipients: t.deliveries.map((d) => ({
      to: d.recipient_name, state: d.state, queued_at: iso(d.queued_at), delivered_at: iso(d.delivered_at),
      delivered_via: d.delivered_via ?? undefined, replied_at: iso(d.replied_at), expired_at: iso(d.expired_at),
      expire_reason: d.expire_reason ?? undefined,
    })),
  };
}
