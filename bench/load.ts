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
import { clockTicks, cpuTicks } from './proc.js';

export interface LoadOptions {
  senders: number;
  perSender: number;
  /** Calls each sender keeps in flight. */
  window: number;
  deadlineMs: number;
}

interface Outcome {
  errors: number;
  firstError?: string;
  ids: string[][];
  start: number;
  lastAccepted: number;
}

/** Each sender keeps `window` calls in flight (1: the next call leaves when the previous returned). */
async function sendAll(senders: Peer[], to: string, perSender: number, tag: string, window: number): Promise<Outcome> {
  const out: Outcome = { errors: 0, ids: senders.map(() => []), start: performance.now(), lastAccepted: 0 };
  await Promise.all(senders.map(async (s, si) => {
    const ids: (string | undefined)[] = new Array(perSender);
    let next = 0;
    await Promise.all(Array.from({ length: Math.min(window, perSender) }, async () => {
      while (next < perSender) {
        const i = next++;
        const r = await send(s, 'dm', { to, content: `${tag} ${si} ${i}` });
        if (r.id) ids[i] = r.id;
        else { out.errors++; out.firstError ??= r.error; }
      }
    }));
    out.ids[si] = ids.filter((id): id is string => !!id);
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
  const cpu0 = { senders: senders.reduce((t, s) => t + cpuTicks(s.pid!), 0), recipient: cpuTicks(r.pid!), clients: process.cpuUsage() };
  const outcome = await sendAll(senders, rname, o.perSender, prefix, o.window);
  const total = outcome.ids.flat().length;
  await r.waitFor((p) => p.pushes.length >= total, o.deadlineMs, `${total} dms`).catch(() => {});
  // Where the time goes: CPU per message of the sending servers, the receiving server, and the
  // MCP clients standing in for Claude Code (this process).
  const us = (ticks: number) => Math.round((ticks / clockTicks()) * 1e6 / Math.max(1, total));
  const clients = process.cpuUsage(cpu0.clients);
  return [
    ...check(label, r, names, outcome, rateTarget, tailTarget),
    fig(label, 'CPU per dm: sending server(s)', us(senders.reduce((t, s) => t + cpuTicks(s.pid!), 0) - cpu0.senders), 'µs'),
    fig(label, 'CPU per dm: receiving server', us(cpuTicks(r.pid!) - cpu0.recipient), 'µs'),
    fig(label, 'CPU per dm: MCP clients (bench)', Math.round((clients.user + clients.system) / Math.max(1, total)), 'µs'),
  ];
}

export function backToBack(c: Cluster, o: Omit<LoadOptions, 'senders'>): Promise<Figure[]> {
  const how = o.window === 1 ? 'one call at a time' : `${o.window} calls in flight`;
  return run(c, `${o.perSender} back-to-back dms (${how})`, o.window === 1 ? 'b2b' : 'b2bw', { ...o, senders: 1 }, 3000, 50);
}

export function fanIn(c: Cluster, o: Omit<LoadOptions, 'window'>): Promise<Figure[]> {
  return run(c, `fan-in ${o.senders}x${o.perSender}`, 'fan', { ...o, window: 1 });
}
