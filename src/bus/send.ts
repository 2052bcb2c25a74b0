/**
 * The send path, for any sender (a session or the human): addressing, project scoping, access
 * lists, and what to store. A send is prepared (checked, nothing written) and then committed,
 * alone or with others in one transaction (group-commit.ts).
 */
import { CcDmError } from '../errors.js';
import { checkName, distance, isReservedName, nameKey } from '../names.js';
import type { MessageKind, MessageRow, NameRow, NewMail, Recipient, ReplyMark, SessionRow, Wake } from '../store/types.js';
import type { BusCore } from './core.js';
import { messageId } from './ids.js';
import { answerPermission, type VerdictResult } from './relay.js';
import { HUMAN, senderName, type Sender, type SenderName } from './sender.js';
import { checkOrdinaryThread, parseVerdict, TTL_DEFAULT_S, type BroadcastArgs, type DmArgs } from './validate.js';

export interface SendResult {
  success: true;
  message_id: string;
  sent_at: string;
  state: 'queued';
  to: string;
  recipient_online: boolean;
  recipient_can_receive_push: boolean;
  /** When the recipient's model will see it (see seenWhen). */
  will_see: WillSee;
  /** With notify_when_idle: the sender is told when the recipient is next idle. */
  notify_when_idle?: true;
  note?: string;
}

/**
 * When a message will be in its recipient's context: now (an idle session, pushed or woken by its
 * hook or by a wake path), after its current tool call (a busy one), after the permission prompt
 * it shows (waiting for approval), at its next turn (idle, and nothing can wake it), when it calls
 * inbox (pull), or when it next runs (offline).
 */
export type WillSee = 'now' | 'after_current_tool' | 'after_approval' | 'next_turn' | 'on_inbox' | 'when_it_runs';

/**
 * How an idle session on the hook path is woken, as far as it can be: a Codex thread only once its
 * thread is known (its first prompt); a Claude Code session from before wakes were recorded, by
 * its bell.
 */
export function effectiveWake(s: SessionRow): Wake {
  if (s.agent === 'codex' && !s.agent_session) return 'none';
  return s.wake ?? (s.agent === 'claude' ? 'bell' : 'none');
}

const WAKE_TEXT: Record<Wake, string> = {
  bell: 'now: its hook wakes it (about a second)',
  queue: 'now: cc-dm queues a prompt into its Codex thread, which starts a turn (under a second)',
  queue_slow: 'in about ten seconds: cc-dm queues a prompt into its Codex thread, which runs in-process and polls its queue',
  waiter: 'now: the cc-dm wait it runs in the background wakes it (about a second)',
  none: '',
};

export function seenWhen(holder: SessionRow | undefined): { when: WillSee; text: string } {
  if (!holder) return { when: 'when_it_runs', text: 'when a session with this name runs again' };
  const path = holder.path ?? (holder.can_push ? 'channel' : 'pull');
  if (path === 'pull')
    return { when: 'on_inbox', text: 'when it calls its inbox tool: its client does not show channel pushes, and no hooks carry mail in' };
  const hosted = holder.agent === 'codex' || holder.agent === 'gemini';
  if (holder.presence === 'working')
    return {
      when: 'after_current_tool',
      text: hosted
        ? 'right after its current tool call, or at the end of its turn (it is working)'
        : 'right after its current tool call (it is working)',
    };
  if (holder.presence === 'approval') return { when: 'after_approval', text: 'once the permission prompt it shows is answered' };
  if (path === 'channel') return { when: 'now', text: 'now (pushed into its context)' };
  const wake = effectiveWake(holder);
  if (wake !== 'none') return { when: 'now', text: WAKE_TEXT[wake] };
  const why =
    holder.agent === 'gemini'
      ? 'no cc-dm wait runs in its background to wake it'
      : holder.agent === 'codex'
        ? holder.agent_session
          ? 'this Codex run cannot be woken'
          : 'its Codex thread has had no prompt yet'
        : 'nothing can wake it while it is idle';
  return { when: 'next_turn', text: `at its next turn (it is idle, and ${why})` };
}

export interface BroadcastResult {
  success: true;
  message_id: string;
  sent_at: string;
  recipients: { name: string; can_receive_push: boolean }[];
  note?: string;
}

/** A send checked and ready to store, with the result to give once it is stored. */
export interface PreparedSend<R> {
  mail: NewMail;
  /** Sessions to ring once it is committed. */
  ring: SessionRow[];
  result(stored: MessageRow): R;
  /** Done once it is committed (a one-shot watch asked for with the send). */
  after?(): Promise<void>;
}

/** What a prepared call does: store a send, or act at once (a permission verdict). */
export type Step<R> = PreparedSend<R> | { run(): Promise<R> };

interface Resolved {
  key: string;
  display: string;
  row?: NameRow;
  holder?: SessionRow;
}

/**
 * Resolves a recipient name, or fails with the names that exist (closest first) among those the
 * sender may reach: names of other projects are never disclosed to a tagged sender. Also
 * returns the open session holding it, not yet checked for liveness.
 */
async function resolve(core: BusCore, from: SenderName, to: string, queueIfUnknown: boolean): Promise<Resolved> {
  const display = checkName(to, 'to');
  const key = nameKey(display);
  const { name: row, holder } = await core.store.lookup(key);
  if (row?.released_to) {
    // Where a name went is the renamed session's business: told only to senders in its scope.
    await checkScope(core, from, key, row.project, row.display);
    throw new CcDmError(
      'E_RENAMED',
      `"${row.display}" renamed itself and is now called "${row.released_to}": send to "${row.released_to}".`,
      { now: row.released_to },
    );
  }
  if (row && row.key !== HUMAN.key) return { key, display: row.display, row, holder };
  if (key === HUMAN.key)
    throw new CcDmError('E_INVALID', 'the human reads the console and the CLI log; a dm to "human" has nowhere to go.');
  // No session can ever hold a name of the reserved families: mail queued for one would only pile up.
  if (isReservedName(key))
    throw new CcDmError('E_INVALID', `no session can ever be called "${display}" (a reserved name): nothing to send to.`);
  if (queueIfUnknown) return { key, display, holder };
  const names = (await core.store.listNames()).filter(
    (n) => !n.released_to && n.key !== HUMAN.key && (!from.project || n.project === from.project),
  );
  const close = names.map((n) => ({ n: n.display, d: distance(key, n.key) })).sort((a, b) => a.d - b.d);
  // Close enough to suggest: up to 40 % of the longer name's letters differ (at least 2).
  const first = close[0];
  const near = first && first.d <= Math.max(2, Math.ceil(Math.max(key.length, first.n.length) * 0.4));
  const suggestion = near ? ` Did you mean "${first.n}"?` : '';
  const list = close.length
    ? close
        .slice(0, 20)
        .map((c) => c.n)
        .join(', ')
    : '(none yet)';
  const where = from.project ? ` in your project "${from.project}"` : '';
  throw new CcDmError(
    'E_UNKNOWN_RECIPIENT',
    `no session${where} has ever been called "${display}".${suggestion} Names that exist${where}: ${list}.`,
    {
      names: close.map((c) => c.n),
      retryWith: 'queue_if_unknown',
    },
  );
}

/**
 * Project scoping: a tagged sender reaches its own project, or a session that wrote to it (since
 * the sender took its name: a name taken with register does not inherit who wrote to it before).
 * The error never says which project the other session is in.
 */
async function checkScope(core: BusCore, from: SenderName, toKey: string, toProject: string | null, toDisplay: string): Promise<void> {
  if (!from.project || toProject === from.project) return;
  if (await core.store.hasWritten(toKey, from.key, from.since)) return;
  throw new CcDmError(
    'E_SCOPE',
    `"${toDisplay}" is outside your project "${from.project}". Sessions with a project tag reach only their own project, and anyone who wrote to them first.`,
  );
}

/** Whether the sender's launch access lists let it reach this name (every way of sending). */
function mayReach(from: Sender, toKey: string): boolean {
  if (from.kind !== 'session') return true;
  const p = from.policy;
  if (p.dmAllowlist && !p.dmAllowlist.includes(toKey)) return false;
  return !p.dmBlocklist?.includes(toKey);
}

function checkDmPolicy(from: Sender, toKey: string, toDisplay: string): void {
  if (from.kind !== 'session') return;
  const p = from.policy;
  if (p.dmAllowlist && !p.dmAllowlist.includes(toKey)) {
    throw new CcDmError(
      'E_FORBIDDEN',
      `this session may dm only ${p.dmAllowlist.join(', ')} (CC_DM_DM_ALLOWLIST); "${toDisplay}" is not listed.`,
    );
  }
  if (p.dmBlocklist?.includes(toKey)) {
    throw new CcDmError('E_FORBIDDEN', `this session may not dm "${toDisplay}" (CC_DM_DM_BLOCKLIST).`);
  }
}

/** A message to store with a delivery row per recipient; the sender is stamped from `me`. */
export function newMail(
  core: BusCore,
  from: Sender,
  me: SenderName,
  kind: MessageKind,
  toName: string | null,
  args: { content: string; priority?: string; message_type?: string; thread_id?: string; ttl_s?: number },
  recipients: Recipient[],
  reply?: ReplyMark,
): NewMail {
  const now = core.now();
  return {
    message: {
      id: messageId(now),
      kind,
      from_name: me.name,
      from_key: me.key,
      from_session: me.session,
      sender_kind: from.kind,
      to_name: toName,
      project: me.project,
      content: args.content,
      priority: args.priority ?? null,
      message_type: args.message_type ?? null,
      thread_id: args.thread_id ?? null,
      sent_at: now,
      expires_at: now + (args.ttl_s ?? TTL_DEFAULT_S) * 1000,
    },
    recipients,
    reply,
  };
}

/**
 * Checks a dm and builds what to store; nothing is written yet. A dm whose whole text answers a
 * pending permission request is a verdict instead, carried out by `run`.
 */
export async function prepareDm(core: BusCore, from: Sender, args: DmArgs): Promise<Step<SendResult | VerdictResult>> {
  const me = senderName(from);
  const to = await resolve(core, me, args.to, args.queue_if_unknown === true);
  if (to.key === me.key) throw new CcDmError('E_INVALID', `"${to.display}" is you: a dm to yourself has nowhere to go.`);
  checkDmPolicy(from, to.key, to.display);

  const verdict = parseVerdict(args.content);
  if (verdict) {
    const perm = await core.store.pendingPermission(to.key, verdict.requestId);
    if (perm) return { run: () => answerPermission(core, from, perm, verdict.behavior) };
  }
  checkOrdinaryThread(args.thread_id);

  const holder = await core.checkHolder(to.holder);
  await checkScope(core, me, to.key, holder?.project ?? to.row?.project ?? null, to.display);
  const mail = newMail(core, from, me, 'dm', to.display, args, [{ key: to.key, display: holder?.name ?? to.display }], {
    recipientKey: me.key,
    senderKey: to.key,
    thread_id: args.thread_id ?? null,
    since: me.since,
  });
  return {
    mail,
    ring: holder ? [holder] : [],
    after: args.notify_when_idle && from.kind === 'session' ? () => core.store.watchIdle(to.key, me.key, me.name, core.now()) : undefined,
    result: (m): SendResult => {
      const seen = seenWhen(holder);
      const result: SendResult = {
        success: true,
        message_id: m.id,
        sent_at: new Date(m.sent_at).toISOString(),
        state: 'queued',
        to: holder?.name ?? to.display,
        recipient_online: !!holder,
        recipient_can_receive_push: holder?.can_push ?? false,
        will_see: seen.when,
      };
      if (args.notify_when_idle && from.kind === 'session') result.notify_when_idle = true;
      if (!holder)
        result.note = `"${to.display}" is not running: the message waits in its mailbox and is delivered when it starts again (time to live ${args.ttl_s ?? TTL_DEFAULT_S} s). Check with status.`;
      else result.note = `"${holder.name}" will see it ${seen.text}.`;
      if (result.notify_when_idle) result.note += ` You will get a cc-dm message when "${holder?.name ?? to.display}" is next idle.`;
      return result;
    },
  };
}

export async function prepareBroadcast(
  core: BusCore,
  from: Sender,
  args: BroadcastArgs,
  opts: { project?: string } = {},
): Promise<PreparedSend<BroadcastResult>> {
  const me = senderName(from);
  checkOrdinaryThread(args.thread_id);
  if (from.kind === 'session') {
    // The role the human gave at launch decides, never one set later with register.
    const allowed = from.policy.broadcastAllowedRoles;
    const launchRole = from.policy.launchRole ?? null;
    if (allowed && !(launchRole && allowed.includes(nameKey(launchRole)))) {
      throw new CcDmError(
        'E_FORBIDDEN',
        `broadcast is allowed only for roles ${allowed.join(', ')} (CC_DM_BROADCAST_ALLOWED_ROLES), as given at launch; this session was launched with role "${launchRole ?? 'none'}" (a role set with register does not count). Send dms instead.`,
      );
    }
  }
  const project = opts.project ?? me.project;
  const inScope = (await core.liveSessions()).filter((s) => s.name_key && s.name_key !== me.key && (!project || s.project === project));
  // The sender's access lists hold for broadcasts too.
  const live = inScope.filter((s) => mayReach(from, s.name_key!));
  const leftOut = inScope.length - live.length;
  if (live.length === 0) {
    throw new CcDmError(
      leftOut ? 'E_FORBIDDEN' : 'E_UNKNOWN_RECIPIENT',
      leftOut
        ? `every live session in scope is outside what this session may dm (CC_DM_DM_ALLOWLIST / CC_DM_DM_BLOCKLIST): nothing was sent.`
        : `no other live session${project ? ` in project "${project}"` : ''} to broadcast to. Broadcasts reach running sessions only; dm a name to leave mail for a session that is down.`,
    );
  }
  const mail = newMail(
    core,
    from,
    { ...me, project },
    'broadcast',
    null,
    args,
    live.map((s) => ({ key: s.name_key!, display: s.name! })),
  );
  return {
    mail,
    ring: live,
    result: (m) => {
      const result: BroadcastResult = {
        success: true,
        message_id: m.id,
        sent_at: new Date(m.sent_at).toISOString(),
        recipients: live.map((s) => ({ name: s.name!, can_receive_push: s.can_push })),
      };
      const blind = live.filter((s) => !s.can_push).map((s) => s.name);
      const notes: string[] = [];
      if (blind.length) notes.push(`${blind.join(', ')} cannot receive pushes: the message waits until they call their inbox tool.`);
      if (leftOut)
        notes.push(`${leftOut} live session(s) in scope were left out by this session's CC_DM_DM_ALLOWLIST / CC_DM_DM_BLOCKLIST.`);
      if (notes.length) result.note = notes.join(' ');
      return result;
    },
  };
}

/**
 * Stores prepared sends in one transaction, in order, then rings their recipients. A session's
 * pipelined sends come here together (GroupCommit): one commit for many messages.
 */
export async function commitSends(core: BusCore, sends: readonly PreparedSend<unknown>[]): Promise<unknown[]> {
  const rows = await core.store.insertMessages(sends.map((s) => s.mail));
  for (const s of sends) core.doorbell.ring(s.ring);
  for (const s of sends) await s.after?.();
  return sends.map((s, i) => s.result(rows[i]!));
}

/** Carries out one prepared step on its own (the CLI's and the console's way). */
export async function perform<R>(core: BusCore, step: Step<R>): Promise<R> {
  if ('run' in step) return step.run();
  return (await commitSends(core, [step]))[0] as R;
}
