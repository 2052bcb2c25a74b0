/** Row shapes and column lists shared by the backends (the same in both dialects). */
import type { DeliveryRow, MessageRow, PendingDelivery } from './types.js';

export const MSG_COLS = `m.seq, m.id, m.kind, m.from_name, m.from_key, m.from_session, m.sender_kind, m.to_name, m.project,
  m.content, m.priority, m.message_type, m.thread_id, m.sent_at, m.expires_at`;
export const DEL_COLS = `d.message_seq, d.recipient_key, d.recipient_name, d.state, d.queued_at, d.delivered_at, d.delivered_via,
  d.delivered_session, d.replied_at, d.expired_at, d.expire_reason, d.claim_code, d.claim_offset, d.confirmed_at`;

/** Why a queued delivery expired (kept with the row, shown to the sender). */
export const EXPIRE_REASON = 'time to live ran out before the recipient was online';

/** Delivery rows grouped by their message. */
export function bySeq(rows: DeliveryRow[]): Map<number, DeliveryRow[]> {
  const out = new Map<number, DeliveryRow[]>();
  for (const r of rows) {
    const list = out.get(r.message_seq) ?? [];
    list.push(r);
    out.set(r.message_seq, list);
  }
  return out;
}

/** Splits a joined message + delivery row (MSG_COLS, DEL_COLS). */
export function splitRow(r: Record<string, unknown>): PendingDelivery {
  const x = r as unknown as MessageRow & DeliveryRow;
  const message: MessageRow = {
    seq: x.seq,
    id: x.id,
    kind: x.kind,
    from_name: x.from_name,
    from_key: x.from_key,
    from_session: x.from_session,
    sender_kind: x.sender_kind,
    to_name: x.to_name,
    project: x.project,
    content: x.content,
    priority: x.priority,
    message_type: x.message_type,
    thread_id: x.thread_id,
    sent_at: x.sent_at,
    expires_at: x.expires_at,
  };
  const delivery: DeliveryRow = {
    message_seq: x.message_seq,
    recipient_key: x.recipient_key,
    recipient_name: x.recipient_name,
    state: x.state,
    queued_at: x.queued_at,
    delivered_at: x.delivered_at,
    delivered_via: x.delivered_via,
    delivered_session: x.delivered_session,
    replied_at: x.replied_at,
    expired_at: x.expired_at,
    expire_reason: x.expire_reason,
    claim_code: x.claim_code,
    claim_offset: x.claim_offset,
    confirmed_at: x.confirmed_at,
  };
  return { message, delivery };
}
