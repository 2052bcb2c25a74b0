/**
 * The bus: addressing, scoping, access control, the delivery lifecycle and the permission
 * relay, for any sender (a session or the human). It knows nothing of MCP; the channel server
 * and the CLI are thin layers over it.
 */
import { CcDmError } from '../errors.js';
import type { Config } from '../config.js';
import type { Behavior, MessageKind, MessageRow, NameRow, NewMail, PermissionRow, Recipient, ReplyMark, SessionRow, Store, Trace } from '../store/types.js';
import type { Doorbell } from '../wake/doorbell.js';
import { isSessionAlive } from './liveness.js';
import { distance, nameKey, checkName } from './names.js';
import { messageId } from './ids.js';
import { parseVerdict, TTL_DEFAULT_S, type BroadcastArgs, type DmArgs } from './validate.js';

/** Who is sending: a session (stamped from its own row, never from arguments) or the human. */
export type Sender =
  | { kind: 'session'; session: SessionRow; config: SenderPolicy }
  | { kind: 'human' };

/** A session's own access rules, read from its launch environment. */
export interface SenderPolicy {
  broadcastAllowedRoles?: readonly string[];
  dmAllowlist?: readonly string[];
  dmBlocklist?: readonly string[];
}

export const HUMAN = { name: 'human', key: 'human' } as const;

export interface SendResult {
  success: true;
  message_id: string;
  sent_at: string;
  state: 'queued';
  to: string;
  recipient_online: boolean;
  recipient_can_receive_push: boolean;
  note?: string;
}

export interface VerdictResult {
  success: true;
  permission_answered: { request_id: string; requester: string; behavior: Behavior };
  note: string;
}

export interface BroadcastResult {
  success: true;
  message_id: string;
  sent_at: string;
  recipients: { name: string; can_receive_push: boolean }[];
  note?: string;
}

/** A send checked and ready to store, with the tool result to give once it is stored. */
export interface PreparedSend<R> {
  mail: NewMail;
  /** Sessions to ring once it is committed. */
  ring: SessionRow[];
  result(stored: MessageRow): R;
}

/** What a prepared call does: store a send, or act at once (a permission verdict). */
export type Step<R> = PreparedSend<R> | { run(): Promise<R> };

export class Bus {
  constructor(
    readonly store: Store,
    readonly config: Config,
    readonly doorbell: Doorbell,
  ) {}

  isAlive = (s: SessionRow): boolean =>
    isSessionAlive(s, { host: this.config.host, heartbeatExpiryMs: this.config.heartbeatExpiryMs });

  /** Open sessions that are really alive; dead ones (killed, crashed) are marked ended on the way. */
  async liveSessions(): Promise<SessionRow[]> {
    const open = await this.store.openSessions();
    const live: SessionRow[] = [];
    for (const s of open) {
      if (this.isAlive(s)) live.push(s);
      else await this.store.endSession(s.id, 'process gone');
    }
    return live;
  }

  senderName(from: Sender): { name: string; key: string; project: string | null; session: string | null } {
    if (from.kind === 'human') return { name: HUMAN.name, key: HUMAN.key, project: null, session: null };
    const s = from.session;
    return { name: s.name!, key: s.name_key!, project: s.project, session: s.id };
  }

  /**
   * Resolves a recipient name, or fails with the names that exist (closest first). Also returns
   * the open session holding it, not yet checked for liveness (see checkHolder).
   */
  async resolve(to: string, opts: { queueIfUnknown?: boolean } = {}): Promise<{ key: string; display: string; row?: NameRow; holder?: SessionRow }> {
    const display = checkName(to, 'to');
    const key = nameKey(display);
    const { name: row, holder } = await this.store.lookup(key);
    if (row?.released_to) {
      throw new CcDmError('E_RENAMED', `"${row.display}" renamed itself and is now called "${row.released_to}": send to "${row.released_to}".`, { now: row.released_to });
    }
    if (row && row.key !== HUMAN.key) return { key, display: row.display, row, holder };
    if (key === HUMAN.key) throw new CcDmError('E_INVALID', 'the human reads the console and the CLI log; a dm to "human" has nowhere to go.');
    if (opts.queueIfUnknown) return { key, display, holder };
    const names = (await this.store.listNames()).filter((n) => !n.released_to && n.key !== HUMAN.key);
    const close = names.map((n) => ({ n: n.display, d: distance(key, n.key) })).sort((a, b) => a.d - b.d);
    // Close enough to suggest: up to 40 % of the longer name's letters differ (at least 2).
    const near = close[0] && close[0].d <= Math.max(2, Math.ceil(Math.max(key.length, close[0].n.length) * 0.4));
    const suggestion = near ? ` Did you mean "${close[0]!.n}"?` : '';
    const list = close.length ? close.slice(0, 20).map((c) => c.n).join(', ') : '(none yet)';
    throw new CcDmError('E_UNKNOWN_RECIPIENT',
      `no session has ever been called "${display}".${suggestion} Names that exist: ${list}. To queue mail for a session that will start later under this name, call dm again with queue_if_unknown: true.`,
      { names: close.map((c) => c.n) });
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
    await this.store.endSession(s.id, 'process gone');
    return undefined;
  }

  /** Project scoping: a tagged sender reaches its own project, or a session that wrote to it. */
  private async checkScope(from: ReturnType<Bus['senderName']>, toKey: string, toProject: string | null, toDisplay: string): Promise<void> {
    if (!from.project || toProject === from.project) return;
    if (await this.store.hasWritten(toKey, from.key)) return;
    throw new CcDmError('E_SCOPE',
      `"${toDisplay}" is outside your project "${from.project}" (its project: ${toProject ?? 'none'}). Sessions with a project tag reach only their own project, and anyone who wrote to them first.`);
  }

  private checkDmPolicy(from: Sender, toKey: string, toDisplay: string): void {
    if (from.kind !== 'session') return;
    const p = from.config;
    if (p.dmAllowlist && !p.dmAllowlist.includes(toKey)) {
      throw new CcDmError('E_FORBIDDEN', `this session may dm only ${p.dmAllowlist.join(', ')} (CC_DM_DM_ALLOWLIST); "${toDisplay}" is not listed.`);
    }
    if (p.dmBlocklist?.includes(toKey)) {
      throw new CcDmError('E_FORBIDDEN', `this session may not dm "${toDisplay}" (CC_DM_DM_BLOCKLIST).`);
    }
  }

  /** Sends a dm (or records a verdict), alone: the CLI's and the console's way. */
  async dm(from: Sender, args: DmArgs): Promise<SendResult | VerdictResult> {
    return this.perform(await this.prepareDm(from, args));
  }

  async broadcast(from: Sender, args: BroadcastArgs, opts: { project?: string } = {}): Promise<BroadcastResult> {
    return this.perform(await this.prepareBroadcast(from, args, opts));
  }

  /** Carries out one prepared step on its own. */
  async perform<R>(step: Step<R>): Promise<R> {
    if ('run' in step) return step.run();
    return (await this.commit([step]))[0] as R;
  }

  /**
   * Stores prepared sends in one transaction, in order, then rings their recipients. A session's
   * pipelined sends come here together (GroupCommit): one commit for many messages.
   */
  async commit(sends: readonly PreparedSend<unknown>[]): Promise<unknown[]> {
    const rows = await this.store.insertMessages(sends.map((s) => s.mail));
    for (const s of sends) this.doorbell.ring(s.ring);
    return sends.map((s, i) => s.result(rows[i]!));
  }

  /**
   * Checks a dm and builds what to store; nothing is written yet. A dm whose whole text answers a
   * pending permission request is a verdict instead, carried out by `run`.
   */
  async prepareDm(from: Sender, args: DmArgs): Promise<Step<SendResult | VerdictResult>> {
    const me = this.senderName(from);
    const to = await this.resolve(args.to, { queueIfUnknown: args.queue_if_unknown });
    if (to.key === me.key) throw new CcDmError('E_INVALID', `"${to.display}" is you: a dm to yourself has nowhere to go.`);
    this.checkDmPolicy(from, to.key, to.display);

    const verdict = parseVerdict(args.content);
    if (verdict) {
      const perm = await this.store.pendingPermission(to.key, verdict.requestId);
      if (perm) return { run: () => this.answerPermission(from, perm, verdict.behavior) };
    }

    const holder = await this.checkHolder(to.holder);
    await this.checkScope(me, to.key, holder?.project ?? to.row?.project ?? null, to.display);
    const mail = this.mail(from, me, 'dm', to.display, args, [{ key: to.key, display: holder?.name ?? to.display }], {
      recipientKey: me.key, senderKey: to.key, thread_id: args.thread_id ?? null,
    });
    return {
      mail, ring: holder ? [holder] : [],
      result: (m): SendResult => {
        const canPush = holder?.can_push ?? false;
        const result: SendResult = {
          success: true, message_id: m.id, sent_at: new Date(m.sent_at).toISOString(), state: 'queued', to: holder?.name ?? to.display,
          recipient_online: !!holder, recipient_can_receive_push: canPush,
        };
        if (!holder) result.note = `"${to.display}" is not running: the message waits in its mailbox and is delivered when it starts again (time to live ${args.ttl_s ?? TTL_DEFAULT_S} s). Check with status.`;
        else if (!canPush) result.note = `"${holder.name}" is running but its Claude Code does not show channel pushes: the message waits until it calls its inbox tool.`;
        return result;
      },
    };
  }

  async prepareBroadcast(from: Sender, args: BroadcastArgs, opts: { project?: string } = {}): Promise<PreparedSend<BroadcastResult>> {
    const me = this.senderName(from);
    if (from.kind === 'session') {
      const allowed = from.config.broadcastAllowedRoles;
      const role = from.session.role ? nameKey(from.session.role) : '';
      if (allowed && !allowed.includes(role)) {
        throw new CcDmError('E_FORBIDDEN', `broadcast is allowed only for roles ${allowed.join(', ')} (CC_DM_BROADCAST_ALLOWED_ROLES); your role is "${from.session.role ?? 'none'}". Send dms instead.`);
      }
    }
    const project = opts.project ?? me.project;
    const live = (await this.liveSessions()).filter((s) => s.name_key && s.name_key !== me.key && (!project || s.project === project));
    if (live.length === 0) {
      throw new CcDmError('E_UNKNOWN_RECIPIENT', `no other live session${project ? ` in project "${project}"` : ''} to broadcast to. Broadcasts reach running sessions only; dm a name to leave mail for a session that is down.`);
    }
    const mail = this.mail(from, { ...me, project }, 'broadcast', null, args, live.map((s) => ({ key: s.name_key!, display: s.name! })));
    return {
      mail, ring: live,
      result: (m) => {
        const result: BroadcastResult = {
          success: true, message_id: m.id, sent_at: new Date(m.sent_at).toISOString(),
          recipients: live.map((s) => ({ name: s.name!, can_receive_push: s.can_push })),
        };
        const blind = live.filter((s) => !s.can_push).map((s) => s.name);
        if (blind.length) result.note = `${blind.join(', ')} cannot receive pushes: the message waits until they call their inbox tool.`;
        return result;
      },
    };
  }

  /** A message to store with a delivery row per recipient; the sender is stamped from `from`. */
  mail(from: Sender, me: ReturnType<Bus['senderName']>, kind: MessageKind, toName: string | null,
    args: { content: string; priority?: string; message_type?: string; thread_id?: string; ttl_s?: number }, recipients: Recipient[],
    reply?: ReplyMark): NewMail {
    const now = Date.now();
    return {
      message: {
        id: messageId(now), kind, from_name: me.name, from_key: me.key, from_session: me.session,
        sender_kind: from.kind, to_name: toName, project: me.project, content: args.content,
        priority: args.priority ?? null, message_type: args.message_type ?? null, thread_id: args.thread_id ?? null,
        sent_at: now, expires_at: now + (args.ttl_s ?? TTL_DEFAULT_S) * 1000,
      },
      recipients, reply,
    };
  }

  // --- permission relay ---------------------------------------------------------------------

  /**
   * Records a verdict. Authority is decided by the human's launch configuration, never by what a
   * model can do: only the approver named in the requester's launch environment, holding that
   * name from its own launch environment, or the human.
   */
  private async answerPermission(from: Sender, perm: PermissionRow, behavior: Behavior): Promise<VerdictResult> {
    if (from.kind === 'session') {
      const s = from.session;
      if (s.name_key === perm.requester_key) throw new CcDmError('E_FORBIDDEN', 'a session never answers its own permission request.');
      if (!perm.approver_key || s.name_key !== perm.approver_key) {
        throw new CcDmError('E_FORBIDDEN', `only ${perm.approver_key ? `"${perm.approver_key}" (the approver named at launch)` : 'the human'} or the human can answer permission request ${perm.request_id} of "${perm.requester_name}".`);
      }
      if (s.name_source !== 'env') {
        throw new CcDmError('E_FORBIDDEN', `you hold the name "${s.name}" through register, not from your launch environment; approval rights belong only to a session launched with CC_DM_SESSION_NAME=${s.name}.`);
      }
    }
    const by = from.kind === 'human' ? HUMAN.name : from.session.name!;
    const ok = await this.store.decidePermission(perm.id, behavior, by, from.kind, Date.now());
    if (!ok) throw new CcDmError('E_NOT_FOUND', `permission request ${perm.request_id} of "${perm.requester_name}" was already answered.`);
    const requester = await this.store.getSession(perm.requester_session);
    if (requester) this.doorbell.ring([requester]);
    return {
      success: true,
      permission_answered: { request_id: perm.request_id, requester: perm.requester_name, behavior },
      note: `recorded: ${behavior} for ${perm.tool_name}. This reply was consumed as the answer and not delivered as text.`,
    };
  }

  /** The human's answer (CLI or console); `requester` disambiguates an id pending for several sessions. */
  async humanVerdict(requestId: string, behavior: Behavior, requester?: string): Promise<VerdictResult> {
    const id = requestId.trim().toLowerCase();
    const pending = (await this.store.listPermissions(true)).filter((p) => p.request_id === id && (!requester || p.requester_key === nameKey(requester)));
    if (pending.length === 0) throw new CcDmError('E_NOT_FOUND', `no pending permission request "${requestId}"${requester ? ` from "${requester}"` : ''}. See cc-dm approvals.`);
    if (pending.length > 1) {
      throw new CcDmError('E_INVALID', `request "${requestId}" is pending for several sessions (${pending.map((p) => p.requester_name).join(', ')}): say which with --from <name>.`);
    }
    return this.answerPermission({ kind: 'human' }, pending[0]!, behavior);
  }

  async trace(id: string): Promise<Trace> {
    await this.store.expireDue(Date.now()); // so a receipt never shows "queued" past its time to live
    const t = await this.store.trace(id.trim());
    if (!t) throw new CcDmError('E_NOT_FOUND', `no message with id "${id}". Message ids look like m_… and are returned by dm and broadcast.`);
    return t;
  }
}
