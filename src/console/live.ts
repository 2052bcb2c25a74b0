/**
 * The live stream (Server-Sent Events) behind the page. The store is the truth and has no change
 * feed common to both backends, so each stream follows it by polling: new messages every 200 ms
 * (one indexed `seq > ?` query; a local SQLite read takes well under a millisecond) and pending
 * approvals likewise; delivery states of recent messages still queued and the roster every second.
 * The browser's EventSource reconnects by itself and sends Last-Event-ID (the last seq it got),
 * so a reconnect resumes without a gap or a duplicate.
 */
import type { SSEStreamingApi } from 'hono/streaming';
import type { Bus } from '../bus/bus.js';
import { errorText } from '../log.js';
import type { MessageView } from '../bus/views.js';

/** A signature of a message's delivery states: an update is sent when it changes. */
function deliverySignature(v: MessageView): string {
  return v.recipients.map((r) => `${r.to}:${r.state}`).join(',');
}

const TICK_MS = 200;
const SLOW_EVERY = 5; // roster and delivery updates: every 5 ticks (1 s)
const PING_EVERY = 75; // a comment every 15 s keeps proxies and idle timers from closing the stream
/** Delivery updates are followed for messages at most this many seqs behind the newest. */
const TRACK_WINDOW = 500;

export async function follow(bus: Bus, stream: SSEStreamingApi, after: number): Promise<void> {
  let closed = false;
  stream.onAbort(() => {
    closed = true;
  });
  let lastSeq = after;
  const tracked = new Map<number, string>(); // seq -> delivery signature, while some delivery is queued
  let rosterJson = '';
  let approvalsJson = '';
  const send = (event: string, data: unknown, id?: number) =>
    stream.writeSSE({ event, data: JSON.stringify(data), id: id === undefined ? undefined : String(id) });

  for (let tick = 0; !closed; tick++) {
    try {
      for (let more = true; more && !closed;) {
        const rows = await bus.history({ afterSeq: lastSeq, limit: 500 });
        more = rows.length === 500;
        for (const v of rows) {
          await send('message', v, v.seq);
          lastSeq = v.seq;
          if (v.recipients.some((r) => r.state === 'queued')) tracked.set(v.seq, deliverySignature(v));
        }
      }
      if (tick % SLOW_EVERY === 0) {
        for (const seq of tracked.keys()) if (seq < lastSeq - TRACK_WINDOW) tracked.delete(seq);
        if (tracked.size) {
          const oldest = Math.min(...tracked.keys());
          const rows = await bus.history({ afterSeq: oldest - 1, limit: lastSeq - oldest + 1 });
          for (const v of rows) {
            const old = tracked.get(v.seq);
            if (old === undefined) continue;
            const sig = deliverySignature(v);
            if (sig !== old) await send('update', v);
            if (v.recipients.some((r) => r.state === 'queued')) tracked.set(v.seq, sig);
            else tracked.delete(v.seq);
          }
        }
        const r = JSON.stringify(await bus.roster({ offline: true }));
        if (r !== rosterJson) {
          rosterJson = r;
          await stream.writeSSE({ event: 'roster', data: r });
        }
      }
      // A permission dialog blocks a session until answered: pending requests every tick.
      const a = JSON.stringify(await bus.approvals(true));
      if (a !== approvalsJson) {
        approvalsJson = a;
        await stream.writeSSE({ event: 'approvals', data: a });
      }
      if (tick % PING_EVERY === PING_EVERY - 1) await stream.write(': ping\n\n');
    } catch (e) {
      if (closed) break;
      // A store that is busy or down is reported to the page, and the stream keeps trying.
      await send('problem', { error: errorText(e) }).catch(() => {
        closed = true;
      });
    }
    await stream.sleep(TICK_MS);
  }
}
