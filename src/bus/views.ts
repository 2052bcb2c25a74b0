/**
 * The views every edge shows (the tools, the CLI, the console): one shape each for a session in
 * the roster, a message with its delivery trace, and a permission request. Times are ISO 8601.
 */
import type { DeliveryRow, PermissionRow, SessionRow, Trace } from '../store/types.js';

export const iso = (n: number | null | undefined): string | null => (n === null || n === undefined ? null : new Date(n).toISOString());

export interface DeliveryView {
  to: string;
  state: DeliveryRow['state'];
  queued_at: string;
  delivered_at: string | null;
  /** push (channel), hook (shown by the agent's hook), pull (the inbox tool). */
  delivered_via: DeliveryRow['delivered_via'];
  /** Hook path: when the text was seen in the agent's context (null: claimed, not yet confirmed). */
  confirmed_at: string | null;
  replied_at: string | null;
  expired_at: string | null;
  expire_reason: string | null;
}

/** A message's receipt: who sent it, and where it is for each recipient (no content). */
export interface ReceiptView {
  message_id: string;
  seq: number;
  kind: string;
  from: string;
  sender_kind: string;
  to: string | null;
  project: string | null;
  priority: string | null;
  message_type: string | null;
  thread_id: string | null;
  sent_at: string;
  expires_at: string;
  recipients: DeliveryView[];
}

/** A message with its content and receipt. */
export interface MessageView extends ReceiptView {
  content: string;
}

export function receiptView(t: Trace): ReceiptView {
  const m = t.message;
  return {
    message_id: m.id,
    seq: m.seq,
    kind: m.kind,
    from: m.from_name,
    sender_kind: m.sender_kind,
    to: m.to_name ?? (m.kind === 'broadcast' ? '(broadcast)' : null),
    project: m.project,
    priority: m.priority,
    message_type: m.message_type,
    thread_id: m.thread_id,
    sent_at: iso(m.sent_at)!,
    expires_at: iso(m.expires_at)!,
    recipients: t.deliveries.map((d) => ({
      to: d.recipient_name,
      state: d.state,
      queued_at: iso(d.queued_at)!,
      delivered_at: iso(d.delivered_at),
      delivered_via: d.delivered_via,
      confirmed_at: iso(d.confirmed_at),
      replied_at: iso(d.replied_at),
      expired_at: iso(d.expired_at),
      expire_reason: d.expire_reason,
    })),
  };
}

export function messageView(t: Trace): MessageView {
  return { ...receiptView(t), content: t.message.content };
}

/** One entry of the roster: a live session, or the mailbox of a name whose session is down. */
export interface RosterEntry {
  name: string;
  live: boolean;
  role: string | null;
  project: string | null;
  host: string | null;
  cwd: string | null;
  pid: number | null;
  /** How the name was taken: from the launch environment, register, a variant, or automatic. */
  name_source: SessionRow['name_source'];
  /** The launch name this session asked for, when it runs under a variant because that was held. */
  wanted_name: string | null;
  client: string | null;
  /** The agent CLI it runs in, when cc-dm can tell (claude, codex, gemini). */
  agent: SessionRow['agent'];
  /** How its mail reaches its model: channel (pushed), hook (its agent's hooks, waking it), pull (inbox only). */
  path: SessionRow['path'];
  /** From its agent's hooks: working, idle, approval (a permission prompt is open), offline; null when unknown. */
  presence: SessionRow['presence'];
  /**
   * How it is woken when idle and mail arrives (hook path): bell (Claude Code), queue (Codex,
   * through its daemon), queue_slow (Codex in-process, ~10 s), waiter (Gemini CLI's background
   * `cc-dm wait`, running now), none (mail waits for its next turn); null where it does not apply.
   */
  wake: SessionRow['wake'];
  can_receive_push: boolean;
  /** Mail waiting in this mailbox. */
  pending: number;
  reserved: boolean;
  started_at: string | null;
  last_active_at: string | null;
}

export interface ApprovalView {
  request_id: string;
  requester: string;
  approver: string;
  tool_name: string;
  description: string;
  input_preview: string;
  state: PermissionRow['state'];
  asked_at: string;
  decided_by: string | null;
  decided_at: string | null;
}

export function approvalView(p: PermissionRow): ApprovalView {
  return {
    request_id: p.request_id,
    requester: p.requester_name,
    approver: p.approver_key ?? 'human',
    tool_name: p.tool_name,
    description: p.description,
    input_preview: p.input_preview,
    state: p.state,
    asked_at: iso(p.created_at)!,
    decided_by: p.decided_by,
    decided_at: iso(p.decided_at),
  };
}

export interface ThreadView {
  thread_id: string;
  messages: number;
  last_at: string;
  participants: string[];
}

/** Threads over a window of recent messages (the store keeps no thread table: a thread is a tag). */
export function threadViews(rows: readonly Trace[]): ThreadView[] {
  const map = new Map<string, { v: ThreadView; last: number }>();
  for (const t of rows) {
    const id = t.message.thread_id;
    if (!id) continue;
    const e = map.get(id) ?? { v: { thread_id: id, messages: 0, last_at: '', participants: [] }, last: 0 };
    e.v.messages++;
    e.last = Math.max(e.last, t.message.sent_at);
    for (const n of [t.message.from_name, ...t.deliveries.map((d) => d.recipient_name)])
      if (!e.v.participants.includes(n)) e.v.participants.push(n);
    map.set(id, e);
  }
  return [...map.values()].sort((a, b) => b.last - a.last).map(({ v, last }) => ({ ...v, last_at: iso(last)! }));
}
