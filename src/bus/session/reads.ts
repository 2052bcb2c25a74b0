/**
 * What a session reads through its tools: the roster as it may see it, receipts of its own
 * messages, its history, and its inbox (mail pulled by a client that does not show pushes).
 */
import { CcDmError } from '../../errors.js';
import { checkName, nameKey } from '../../names.js';
import type { SessionRow } from '../../store/types.js';
import type { BusCore } from '../core.js';
import { HUMAN } from '../sender.js';
import type { MessageView, ReceiptView, RosterEntry } from '../views.js';
import type { Bus } from '../bus.js';
import { envelope } from './delivery.js';

export interface WhoResult {
  you: string;
  sessions: (RosterEntry & { you?: true })[];
  offline_mailboxes: string[];
  note: string;
}

export interface HistoryResult {
  messages: MessageView[];
}

export interface InboxResult {
  messages: (Record<string, string> & { content: string })[];
  still_waiting: number;
}

/** A tagged session sees its own project; an untagged one sees everyone. */
export async function who(bus: Bus, row: SessionRow): Promise<WhoResult> {
  const all = await bus.roster({ project: row.project, offline: true });
  return {
    you: row.name!,
    sessions: all.filter((e) => e.live).map((e) => (e.name === row.name ? { ...e, you: true as const } : e)),
    offline_mailboxes: all
      .filter((e) => !e.live && e.name !== HUMAN.name)
      .slice(0, 50)
      .map((e) => e.name),
    note:
      row.agent === 'codex' || row.agent === 'gemini'
        ? "These are cc-dm sessions (Claude Code, Codex, Gemini CLI): message them with this server's dm tool."
        : "These are cc-dm sessions: message them with this server's dm tool, not with Claude Code's built-in SendMessage.",
  };
}

/**
 * A receipt, for a message this session sent or received only; a name taken with register (or a
 * variant) has no past, so nothing from before it took the name.
 */
export async function status(bus: Bus, row: SessionRow, messageId: string): Promise<ReceiptView> {
  const v = await bus.trace(messageId);
  const involved = nameKey(v.from) === row.name_key || v.recipients.some((r) => nameKey(r.to) === row.name_key);
  const ours = row.history_since === null || Date.parse(v.sent_at) >= row.history_since;
  if (!involved || !ours) throw new CcDmError('E_NOT_FOUND', `no message "${messageId}" sent by or to you.`);
  const { content: _content, ...receipt } = v;
  return receipt;
}

export async function history(
  bus: Bus,
  row: SessionRow,
  args: { peer?: string; thread_id?: string; query?: string; limit?: number },
): Promise<HistoryResult> {
  const messages = await bus.history({
    participant: row.name_key!,
    peer: args.peer ? nameKey(checkName(args.peer, 'peer')) : undefined,
    thread_id: args.thread_id,
    query: args.query,
    // A name taken with register starts with no past: its predecessors' conversations are not its own.
    since: row.history_since ?? undefined,
    limit: args.limit ?? 20,
  });
  return { messages };
}

/** Pulls waiting mail (for a client that does not show pushes), marking it delivered. */
export async function inbox(core: BusCore, row: SessionRow, limit = 50): Promise<InboxResult> {
  const batch = await core.store.pendingFor(row.name_key!, row.id, limit, core.now());
  const out: InboxResult['messages'] = [];
  for (const { message, delivery } of batch) {
    if (await core.store.markDelivered(message.seq, delivery.recipient_key, row.id, 'pull', core.now())) {
      out.push({ ...envelope(message, row.name!), content: message.content });
    }
  }
  return { messages: out, still_waiting: await core.store.countPending(row.name_key!, core.now()) };
}

/**
 * A line for tool results when mail waits that this session's client will not show by itself:
 * on the pull path, call inbox; on the hook path it is on its way (the hooks show it right after
 * this tool call), with inbox as the fallback if they do not.
 */
export async function waitingNote(core: BusCore, row: SessionRow): Promise<string | undefined> {
  if (row.can_push) return undefined;
  const n = await core.store.countPending(row.name_key!, core.now());
  if (n === 0) return undefined;
  // The agent's hooks may have bound this session to the hook path since it started.
  const path = (await core.store.getSession(row.id))?.path ?? row.path;
  if (path === 'hook')
    return `${n} message(s) wait for you: cc-dm's hooks show them right after this tool call (if they do not appear, call the inbox tool).`;
  if (row.agent === 'codex' || row.agent === 'gemini')
    return `${n} message(s) wait for you: call the inbox tool to read them (cc-dm's hooks have not run in this session: is cc-dm set up with cc-dm setup ${row.agent}?).`;
  return `${n} message(s) wait for you: call the inbox tool to read them (this client was not started with cc-dm as a channel, and no hooks carry mail in).`;
}
