/** Row shapes shared by the backends. */
import type { DeliveryRow, MessageRow, PendingDelivery } from './types.js';

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

/** Splits a joined message + delivery row (see MSG_COLS and DEL_COLS of each store). */
export function splitRow(r: any): PendingDelivery {
  const message: MessageRow = {
    seq: r.seq, id: r.id, kind: r.kind, from_name: r.from_name, from_key: r.from_key, from_session: r.from_session,
    sender_kind: r.sender_kind, to_name: r.to_name, project: r.project, content: r.content, priority: r.priority,
    message_type: r.message_type, thread_id: r.thread_id, sent_at: r.sent_at, expires_at: r.expires_at,
  };
  const delivery: DeliveryRow = {
    message_seq: r.message_seq, recipient_key: r.recipient_key, recipient_name: r.recipient_name, state: r.state,
    queued_at: r.queued_at, delivered_at: r.delivered_at, delivered_via: r.delivered_via, delivered_session: r.delivered_session,
    replied_at: r.replied_at, expired_at: r.expired_at, expire_reason: r.expire_reason,
  };
  return { message, delivery };
}
