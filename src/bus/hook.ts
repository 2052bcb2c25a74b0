/**
 * The bus's side of the hook path (docs/design.md, "Delivery paths"): an agent's hooks find
 * their session by the agent's pid, bind the agent's own session id and transcript to it, claim
 * waiting mail through the same atomic step as every path, confirm what reached the model, and
 * queue again what a dead agent claimed but never showed. The agent-specific parts (hook input,
 * framing, reading a transcript) are the adapters' (src/delivery/).
 */
import { randomBytes } from 'node:crypto';
import type { Agent, MessageRow, Presence, SessionRow, Wake } from '../store/types.js';
import type { BusCore } from './core.js';
import { newMail, perform } from './send.js';
import { senderName } from './sender.js';

/**
 * How an agent's hook names its session: the agent CLI's process (Claude Code's CLAUDE_PID, the
 * Gemini CLI process), and for Codex the thread (a shared app-server runs many threads, each a
 * session, under one process).
 */
export interface AgentRef {
  agent: Agent;
  pid: number;
  /** A Codex thread id (the hook input's session_id). */
  thread?: string | null;
}

/** What an agent's hooks report when they bind to their session. */
export interface AgentBinding {
  ref: AgentRef;
  /** The agent's own id of this session (Claude Code's session id: new after /clear; a Codex thread id). */
  agentSession: string | null;
  transcript: string | null;
  /** False for an unattended run (claude -p): its mail stays queued for the inbox tool. */
  attended: boolean;
  /** How it is woken when idle, if the hook knows (Claude Code: its bell). */
  wake?: Wake;
}

/** A claimed message, with the random code it is printed with (the hook's proof of delivery). */
export interface Claimed {
  message: MessageRow;
  code: string;
}

/** A session as its agent's hooks see it. */
export interface AgentSessionView {
  name: string;
  role: string | null;
  project: string | null;
  wanted_name: string | null;
  path: SessionRow['path'];
  transcript: string | null;
  agent: Agent | null;
  agent_session: string | null;
  presence: Presence | null;
  /** When its hooks last reported a change of presence. */
  presence_at: number | null;
  wake: Wake | null;
  wake_pid: number | null;
  /** Mail waiting in its mailbox. */
  pending: number;
}

/** A hook's claim not yet confirmed, and what is needed to confirm it. */
export interface UnconfirmedClaim {
  message_seq: number;
  recipient_key: string;
  code: string;
  offset: number;
  /** The transcript of the session that claimed it. */
  transcript: string | null;
  /** Whether that session is still alive (if not, an unseen claim is queued again). */
  claimerAlive: boolean;
  /** When it was claimed. */
  claimedAt: number;
}

export async function agentSessionView(core: BusCore, s: SessionRow): Promise<AgentSessionView> {
  return {
    name: s.name!,
    role: s.role,
    project: s.project,
    wanted_name: s.wanted_name,
    path: s.path,
    transcript: s.transcript,
    agent: s.agent,
    agent_session: s.agent_session,
    presence: s.presence,
    presence_at: s.presence_at,
    wake: s.wake,
    wake_pid: s.wake_pid,
    pending: await core.store.countPending(s.name_key!, core.now()),
  };
}

/**
 * The live session on this machine an agent's hook belongs to. Claude Code and Gemini CLI: the
 * session whose agent is that process. Codex: the session bound to the thread; else, for a Codex
 * that runs one thread in its own process, its one session not yet bound to a thread (a shared
 * app-server's sessions are bound from their start, src/wake/codex-threads.ts).
 */
export async function sessionOfAgent(core: BusCore, ref: AgentRef): Promise<SessionRow | undefined> {
  const local = (await core.liveSessions()).filter((s) => s.name && (s.machine === null || s.machine === core.machine));
  if (ref.agent !== 'codex' || !ref.thread) return local.find((s) => s.agent_pid === ref.pid);
  const bound = local.find((s) => s.agent === 'codex' && s.agent_session === ref.thread);
  if (bound) return bound;
  const unbound = local.filter((s) => s.agent_pid === ref.pid && s.agent_session === null);
  return unbound.length === 1 ? unbound[0] : undefined;
}

/** Records what the agent's hooks say it is doing (presence; see setPresence). */
export async function agentPresence(core: BusCore, ref: AgentRef, presence: Presence): Promise<void> {
  const s = await sessionOfAgent(core, ref);
  if (s) await setPresence(core, s, presence);
}

/** Records how the session is woken when idle (a Gemini waiter arming itself, or leaving). */
export async function agentWake(core: BusCore, ref: AgentRef, wake: Wake, wakePid: number | null): Promise<SessionRow | undefined> {
  const s = await sessionOfAgent(core, ref);
  if (!s) return undefined;
  await core.store.updateSession(s.id, { wake, wake_pid: wakePid });
  return { ...s, wake, wake_pid: wakePid };
}

/**
 * Binds the agent's session id and transcript to its session and settles the path: a session
 * whose pushes are seen keeps the channel (hooks stand down there); an attended one gets the
 * hook path; an unattended one (claude -p) pulls.
 */
export async function bindAgent(core: BusCore, b: AgentBinding): Promise<SessionRow | undefined> {
  const s = await sessionOfAgent(core, b.ref);
  if (!s) return undefined;
  const path = s.path === 'channel' ? 'channel' : b.attended ? 'hook' : 'pull';
  const patch = {
    agent: b.ref.agent,
    agent_session: b.agentSession,
    transcript: b.transcript,
    path,
    ...(b.wake && path === 'hook' ? { wake: b.wake } : {}),
  } as const;
  await core.store.updateSession(s.id, patch);
  return { ...s, ...patch };
}

/** A fresh 48-bit code: drawn when the hook prints, so no sender, who wrote earlier, can know it. */
export function deliveryCode(): string {
  return randomBytes(6).toString('hex');
}

/**
 * Claims waiting mail for a hook to print, in order: as many whole messages as fit in `budget`
 * characters once framed (`size`), and always the first (a message is at most 64 KiB, within
 * any wake). Each is claimed through markDelivered, so a message is delivered once whatever
 * races (another hook, the inbox tool). `more` says mail is still waiting (ring again).
 */
export async function claimForHook(
  core: BusCore,
  s: SessionRow,
  o: { budget: number; size(m: MessageRow, code: string): number; offset: number },
): Promise<{ claimed: Claimed[]; more: boolean }> {
  const pending = await core.store.pendingFor(s.name_key!, s.id, 50, core.now());
  const claimed: Claimed[] = [];
  let used = 0;
  for (const { message, delivery } of pending) {
    const code = deliveryCode();
    const size = o.size(message, code);
    if (claimed.length > 0 && used + size > o.budget) return { claimed, more: true };
    if (await core.store.markDelivered(message.seq, delivery.recipient_key, s.id, 'hook', core.now(), { code, offset: o.offset })) {
      claimed.push({ message, code });
      used += size;
    }
  }
  const more = pending.length === 50 || (await core.store.countPending(s.name_key!, core.now())) > 0;
  return { claimed, more };
}

/** Hook deliveries of this name not yet confirmed, with what confirming each needs. */
export async function unconfirmedClaims(core: BusCore, nameKey: string): Promise<UnconfirmedClaim[]> {
  const rows = await core.store.unconfirmed(nameKey);
  const claimers = new Map<string, SessionRow | undefined>();
  const out: UnconfirmedClaim[] = [];
  for (const { delivery: d } of rows) {
    const id = d.delivered_session ?? '';
    if (!claimers.has(id)) claimers.set(id, id ? await core.store.getSession(id) : undefined);
    const claimer = claimers.get(id);
    out.push({
      message_seq: d.message_seq,
      recipient_key: d.recipient_key,
      code: d.claim_code ?? '',
      offset: d.claim_offset ?? 0,
      transcript: claimer?.transcript ?? null,
      claimerAlive: !!claimer && core.isAlive(claimer),
      claimedAt: d.delivered_at ?? 0,
    });
  }
  return out;
}

/** Confirms a claim (its text reached the model), or queues it again (it never did) and rings the name's holder. */
export async function settleClaim(core: BusCore, c: UnconfirmedClaim, action: 'confirm' | 'requeue'): Promise<void> {
  if (action === 'confirm') {
    await core.store.confirm(c.message_seq, c.recipient_key, core.now());
    return;
  }
  if (!(await core.store.requeue(c.message_seq, c.recipient_key))) return;
  const holder = await core.liveHolder(c.recipient_key);
  if (holder) core.doorbell.ring([holder]);
}

/**
 * Records a session's presence; when it becomes idle (or goes offline), tells whoever asked to
 * know (dm notify_when_idle), once, with a message from cc-dm itself.
 */
export async function setPresence(core: BusCore, s: SessionRow, presence: Presence): Promise<void> {
  if (s.presence === presence) return;
  await core.store.updateSession(s.id, { presence, presence_at: core.now() });
  if (presence !== 'idle' && presence !== 'offline') return;
  for (const w of await core.store.takeIdleWatches(s.name_key!)) {
    const holder = await core.liveHolder(w.watcher_key);
    const content =
      presence === 'idle'
        ? `"${s.name}" is idle now (it finished its turn and waits for input): a dm to it reaches it at once.`
        : `"${s.name}" went offline before it was idle: mail to it waits in its mailbox until it runs again.`;
    const system = { kind: 'system' } as const;
    await perform(core, {
      mail: newMail(core, system, senderName(system), 'dm', w.watcher_name, { content, message_type: 'status' }, [
        { key: w.watcher_key, display: holder?.name ?? w.watcher_name },
      ]),
      ring: holder ? [holder] : [],
      result: () => undefined,
    });
  }
}
