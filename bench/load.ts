/**
 * Load: 2,000 back-to-back dms from one sender, and 8 senders x 250 dms at once to one
 * recipient. A sender sends its next dm as soon as the previous call returned. Counted: send
 * errors, lost (accepted, never pushed), duplicates (pushed twice), order per sender, the
 * accepted rate, and the time from the last accepted send to the last delivery.
 *
 * Each scenario first runs once unmeasured (`warmupRounds`): the first 2,000 calls through a
 * fresh bench process cost its MCP clients twice the CPU of the next 2,000 (V8 compiling them),
 * on the same two cores as the servers. Claude Code and its servers are long-running processes;
 * the figures are for warm ones.
 */
import type { Peer } from '../src/channel/peer.js';
import type { Cluster } from './harness.js';
import { send } from './harness.js';
import { fig, eq, type Figure } from './report.js';
import { atLeast, atMost, type PerfTargets } from './targets.js';
import { clockTicks, cpuTicks } from './proc.js';

export interface LoadOptions {
  senders: number;
  perSender: number;
  /** Calls each sender keeps in flight. */
  window: number;
  deadlineMs: number;
  /** Unmeasured runs of the same load first. */
  warmupRounds: number;
  targets: PerfTargets;
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
    fig(label, 'accepted rate', Math.round(rate), 'msg/s', atLeast(rateTarget)),
    fig(label, 'last send -> last delivery', lost ? Number.NaN : lastDelivery - o.lastAccepted, 'ms', atMost(tailTarget)),
  ];
  return figs;
}

async function run(c: Cluster, label: string, prefix: string, o: LoadOptions, rateTarget?: number, tailTarget?: number): Promise<Figure[]> {
  const names = Array.from({ length: o.senders }, (_, i) => `${prefix}-s${i}`);
  const rname = `${prefix}-r`;
  const r = await c.start(rname);
  const senders: Peer[] = [];
  for (const n of names) senders.push(await c.start(n));
  for (let round = 0; round < o.warmupRounds; round++) {
    const warm = (await sendAll(senders, rname, o.perSender, `${prefix}-warmup${round}`, o.window)).ids.flat().length;
    await r.waitFor((p) => p.pushes.length >= warm, o.deadlineMs, 'the warm-up dms').catch(() => {});
    r.pushes.length = 0;
  }
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
  const label = `${o.perSender} back-to-back dms (${o.window === 1 ? 'one call at a time' : `${o.window} calls in flight`})`;
  if (o.window > 1) return run(c, label, 'b2bw', { ...o, senders: 1 }, o.targets.acceptedRate, o.targets.tailMs);
  // One call at a time, a rate is bounded by the MCP client's round trip whatever the server
  // does: shown beside it, the rate of pings (a request the SDK answers without cc-dm's code).
  return run(c, label, 'b2b', { ...o, senders: 1 }, undefined, o.targets.tailMs).then(async (figs) => {
    const sender = c.peers.at(-1)!;
    const t0 = performance.now();
    for (let i = 0; i < o.perSender; i++) await sender.client.ping();
    return [...figs, fig(label, 'ceiling: MCP pings one at a time', Math.round(o.perSender / ((performance.now() - t0) / 1000)), 'msg/s')];
  });
}

export function fanIn(c: Cluster, o: Omit<LoadOptions, 'window'>): Promise<Figure[]> {
  return run(c, `fan-in ${o.senders}x${o.perSender}`, 'fan', { ...o, window: 1 });
}
