/** What the console's page receives: plain JSON views of the store's rows (times as epoch ms). */
import type { Bus } from '../bus/bus.js';
import { nameKey } from '../bus/names.js';
import type { PermissionRow, Trace } from '../store/types.js';

export interface MessageView {
  seq: number;
  id: string;
  kind: string;
  from: string;
  sender_kind: string;
  to: string | null;
  project: string | null;
  content: string;
  priority: string | null;
  message_type: string | null;
  thread_id: string | null;
  sent_at: number;
  expires_at: number;
  recipients: {
    to: string; state: string; queued_at: number; delivered_at: number | null; delivered_via: string | null;
    replied_at: number | null; expired_at: number | null; expire_reason: string | null;
  }[];
}

export function messageView(t: Trace): MessageView {
  const m = t.message;
  return {
    seq: m.seq, id: m.id, kind: m.kind, from: m.from_name, sender_kind: m.sender_kind, to: m.to_name, project: m.project,
    content: m.content, priority: m.priority, message_type: m.message_type, thread_id: m.thread_id,
    sent_at: m.sent_at, expires_at: m.expires_at,
    recipients: t.deliveries.map((d) => ({
      to: d.recipient_name, state: d.state, queued_at: d.queued_at, delivered_at: d.delivered_at, delivered_via: d.delivered_via,
      replied_at: d.replied_at, expired_at: d.expired_at, expire_reason: d.expire_reason,
    })),
  };
}

/** A signature of a message's delivery states: an update is sent when it changes. */
export function deliverySignature(v: MessageView): string {
  return v.recipients.map((r) => `${r.to}:${r.state}`).join(',');
}

export interface RosterEntry {
  name: string;
  live: boolean;
  role: string | null;
  project: string | null;
  can_push: boolean;
  pending: number;
  reserved: boolean;
  cwd: string | null;
  started_at: number | null;
  last_active_at: number | null;
}

/** Live sessions first, then every other mailbox (ended sessions keep their names and mail). */
export async function roster(bus: Bus): Promise<RosterEntry[]> {
  const now = Date.now();
  const live = await bus.liveSessions();
  const names = await bus.store.listNames();
  const out: RosterEntry[] = [];
  const seen = new Set<string>();
  for (const s of live) {
    if (!s.name || !s.name_key) continue;
    seen.add(s.name_key);
    out.push({
      name: s.name, live: true, role: s.role, project: s.project, can_push: s.can_push,
      pending: await bus.store.countPending(s.name_key, now), reserved: !!names.find((n) => n.key === s.name_key)?.reserved,
      cwd: s.cwd, started_at: s.started_at, last_active_at: s.last_active_at,
    });
  }
  for (const n of names) {
    if (seen.has(n.key) || n.released_to || n.key === 'human') continue;
    out.push({
      name: n.display, live: false, role: n.role, project: n.project, can_push: false,
      pending: await bus.store.countPending(n.key, now), reserved: n.reserved, cwd: null, started_at: null, last_active_at: n.last_held_at,
    });
  }
  out.sort((a, b) => Number(b.live) - Number(a.live) || nameKey(a.name).localeCompare(nameKey(b.name)));
  return out;
}

export interface ApprovalView {
  request_id: string;
  requester: string;
  approver: string;
  tool_name: string;
  description: string;
  input_preview: string;
  state: string;
  created_at: number;
  decided_by: string | null;
  decided_at: number | null;
}

export function approvalView(p: PermissionRow): ApprovalView {
  return {
    request_id: p.request_id, requester: p.requester_name, approver: p.approver_key ?? 'human', tool_name: p.tool_name,
    description: p.description, input_preview: p.input_preview, state: p.state, created_at: p.created_at,
    decided_by: p.decided_by, decided_at: p.decided_at,
  };
}

export interface ThreadView {
  thread_id: string;
  messages: number;
  last_at: number;
  participants: string[];
}

/** Threads over the most recent messages (the store keeps no thread table: a thread is a tag). */
export async function threads(bus: Bus, window = 2000): Promise<ThreadView[]> {
  const rows = await bus.store.history({ limit: window });
  const map = new Map<string, ThreadView>();
  for (const t of rows) {
    const id = t.message.thread_id;
    if (!id) continue;
    const v = map.get(id) ?? { thread_id: id, messages: 0, last_at: 0, participants: [] };
    v.messages++;
    v.last_at = Math.max(v.last_at, t.message.sent_at);
    for (const n of [t.message.from_name, ...t.deliveries.map((d) => d.recipient_name)]) if (!v.participants.includes(n)) v.participants.push(n);
    map.set(id, v);
  }
  return [...map.values()].sort((a, b) => b.last_at - a.last_at);
}
