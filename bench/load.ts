/**
 * Load: 2,000 back-to-back dms from one sender, and 8 senders x 250 dms at once to one
 * recipient. A sender sends its next dm as soon as the previous call returned. Counted: send
 * errors, lost (accepted, never pushed), duplicates (pushed twice), order per sender, the
 * accepted rate, and the time from the last accepted send to the last delivery.
 */
import type { Peer } from '../src/channel/peer.js';
import type { Cluster } from './harness.js';
import { send } from './harness.js';
import { fig, eq, ge, le, type Figure } from './report.js';

export interface LoadOptions {
  senders: number;
  perSender: number;
  deadlineMs: number;
}

interface Outcome {
  errors: number;
  firstError?: string;
  ids: string[][];
  start: number;
  lastAccepted: number;
}

async function sendAll(senders: Peer[], to: string, perSender: number, tag: string): Promise<Outcome> {
  const out: Outcome = { errors: 0, ids: senders.map(() => []), start: performance.now(), lastAccepted: 0 };
  await Promise.all(senders.map(async (s, si) => {
    for (let i = 0; i < perSender; i++) {
      const r = await send(s, 'dm', { to, content: `${tag} ${si} ${i}` });
      if (r.id) out.ids[si]!.push(r.id);
      else { out.errors++; out.firstError ??= r.error; }
    }
    out.lastAccepted = Math.max(out.lastAccepted, performance.now());
  }));
  return out;
}

function check(label: string, r: Peer, senderNames: string[], o: Outcome, rateTarget?: number, tailTarget?: number): Figure[] {
  const accepted = o.ids.flat();
  const count = new Map<string, number>();
  const lastAt = new Map<string, number>();
  for (const p of r.pushes) {
    const id = p.meta.message_id!;
    count.set(id, (count.get(id) ?? 0) + 1);
    lastAt.set(id, p.at);
  }
  const lost = accepted.filter((id) => !count.has(id)).length;
  const duplicates = [...count.values()].reduce((s, n) => s + n - 1, 0);
  let outOfOrder = 0;
  senderNames.forEach((name, si) => {
    const order = new Map(o.ids[si]!.map((id, i) => [id, i]));
    let prev = -1;
    for (const p of r.pushes) {
      if (p.meta.from_session !== name) continue;
      const i = order.get(p.meta.message_id!);
      if (i === undefined) continue;
      if (i < prev) outOfOrder++;
      prev = Math.max(prev, i);
    }
  });
  const rate = accepted.length / ((o.lastAccepted - o.start) / 1000);
  const lastDelivery = Math.max(...accepted.map((id) => lastAt.get(id) ?? Number.NaN));
  const figs = [
    fig(label, 'send errors', o.errors, '', eq(0), o.firstError),
    fig(label, 'lost', lost, '', eq(0)),
    fig(label, 'duplicates', duplicates, '', eq(0)),
    fig(label, 'out of order (per sender)', outOfOrder, '', eq(0)),
    fig(label, 'accepted rate', Math.round(rate), 'msg/s', rateTarget ? ge(rateTarget) : undefined),
    fig(label, 'last send -> last delivery', lost ? Number.NaN : lastDelivery - o.lastAccepted, 'ms', tailTarget ? le(tailTarget) : undefined),
  ];
  return figs;
}

async function run(c: Cluster, label: string, prefix: string, o: LoadOptions, rateTarget?: number, tailTarget?: number): Promise<Figure[]> {
  const names = Array.from({ length: o.senders }, (_, i) => `${prefix}-s${i}`);
  const rname = `${prefix}-r`;
  const r = await c.start(rname);
  const senders: Peer[] = [];
  for (const n of names) senders.push(await c.start(n));
  const outcome = await sendAll(senders, rname, o.perSender, prefix);
  const total = outcome.ids.flat().length;
  await r.waitFor((p) => p.pushes.length >= total, o.deadlineMs, `${total} dms`).catch(() => {});
  return check(label, r, names, outcome, rateTarget, tailTarget);
}

export function backToBack(c: Cluster, o: Omit<LoadOptions, 'senders'>): Promise<Figure[]> {
  return run(c, `${o.perSender} back-to-back dms`, 'b2b', { ...o, senders: 1 }, 3000, 50);
}

export function fanIn(c: Cluster, o: LoadOptions): Promise<Figure[]> {
  return run(c, `fan-in ${o.senders}x${o.perSender}`, 'fan', o);
}
