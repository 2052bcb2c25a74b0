/**
 * Load: 2,000 back-to-back dms from one sender, and 8 senders x 250 dms at once to one
 * recipient. A sender sends its next dm as soon as the previous call returned. Counted: send
 * errors, lost (accepted, never pushed), duplicates (pushed twice), order per sender, the
 * accepted rate, the tool call round trip, and the time from the last accepted send to the last
 * delivery. Pushes are matched to sends by content (unique per send), so any server can be run.
 *
 * Each scenario first runs once unmeasured (`warmupRounds`): the first 2,000 calls through a
 * fresh bench process cost its MCP clients twice the CPU of the next 2,000 (V8 compiling them),
 * on the same two cores as the servers. Claude Code and its servers are long-running processes;
 * the figures are for warm ones.
 */
import type { BenchPeer } from './client.js';
import type { Cluster } from './harness.js';
import { ready, send } from './harness.js';
import { fig, eq, vs, type Figure, type Target } from './report.js';
import { atLeast, atMost, type PerfTargets } from './targets.js';
import { clockTicks, cpuTicks, processTree } from './proc.js';
import { percentile } from './stats.js';

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
  /** Accepted contents per sender, in call order. */
  sent: string[][];
  start: number;
  lastAccepted: number;
  roundTrips: number[];
}

/** Each sender keeps `window` calls in flight (1: the next call leaves when the previous returned). */
async function sendAll(senders: BenchPeer[], to: string, perSender: number, tag: string, window: number): Promise<Outcome> {
  const out: Outcome = { errors: 0, sent: senders.map(() => []), start: performance.now(), lastAccepted: 0, roundTrips: [] };
  await Promise.all(senders.map(async (s, si) => {
    const ok: (string | undefined)[] = new Array(perSender);
    let next = 0;
    await Promise.all(Array.from({ length: Math.min(window, perSender) }, async () => {
      while (next < perSender) {
        const i = next++;
        const content = `${tag} ${si} ${i}`;
        const t0 = performance.now();
        const r = await send(s, 'dm', { to, content });
        out.roundTrips.push(performance.now() - t0);
        if (r.ok) ok[i] = content;
        else { out.errors++; out.firstError ??= r.error; }
      }
    }));
    out.sent[si] = ok.filter((c): c is string => !!c);
    out.lastAccepted = Math.max(out.lastAccepted, performance.now());
  }));
  return out;
}

function check(label: string, r: BenchPeer, o: Outcome, t: { rate?: Target; roundTrip?: Target; tail?: number }): Figure[] {
  const accepted = o.sent.flat();
  const count = new Map<string, number>();
  const lastAt = new Map<string, number>();
  for (const p of r.pushes) {
    count.set(p.content, (count.get(p.content) ?? 0) + 1);
    lastAt.set(p.content, p.at);
  }
  const lost = accepted.filter((c) => !count.has(c)).length;
  const duplicates = [...count.values()].reduce((s, n) => s + n - 1, 0);
  let outOfOrder = 0;
  o.sent.forEach((list) => {
    const order = new Map(list.map((c, i) => [c, i]));
    let prev = -1;
    for (const p of r.pushes) {
      const i = order.get(p.content);
      if (i === undefined) continue;
      if (i < prev) outOfOrder++;
      prev = Math.max(prev, i);
    }
  });
  const rate = accepted.length / ((o.lastAccepted - o.start) / 1000);
  const lastDelivery = Math.max(...accepted.map((c) => lastAt.get(c) ?? Number.NaN));
  return [
    fig(label, 'send errors', o.errors, '', eq(0), o.firstError),
    fig(label, 'lost', lost, '', eq(0)),
    fig(label, 'duplicates', duplicates, '', eq(0)),
    fig(label, 'out of order (per sender)', outOfOrder, '', eq(0)),
    fig(label, 'accepted rate', Math.round(rate), 'msg/s', t.rate),
    fig(label, 'tool call round trip p50', percentile(o.roundTrips, 50), 'ms', t.roundTrip),
    fig(label, 'tool call round trip p99', percentile(o.roundTrips, 99), 'ms'),
    fig(label, 'last send -> last delivery', lost ? Number.NaN : lastDelivery - o.lastAccepted, 'ms', atMost(t.tail)),
  ];
}

const treeTicks = (pids: number[]) => pids.reduce((t, p) => t + processTree(p).reduce((s, q) => s + cpuTicks(q), 0), 0);

async function run(c: Cluster, label: string, prefix: string, o: LoadOptions, t: { rate?: Target; roundTrip?: Target; tail?: number }): Promise<Figure[]> {
  const rname = `${prefix}-r`;
  const r = await c.start(rname);
  const senders: BenchPeer[] = [];
  for (let i = 0; i < o.senders; i++) senders.push(await c.start(`${prefix}-s${i}`));
  await Promise.all(senders.map((s) => ready(s, r, o.deadlineMs)));
  for (let round = 0; round < o.warmupRounds; round++) {
    const warm = (await sendAll(senders, rname, o.perSender, `${prefix}-warmup${round}`, o.window)).sent.flat().length;
    await r.waitFor((p) => p.pushes.length >= warm + senders.length, o.deadlineMs, 'the warm-up dms').catch(() => {});
  }
  r.pushes.length = 0;
  const spids = senders.map((s) => s.pid!);
  const cpu0 = { senders: treeTicks(spids), recipient: treeTicks([r.pid!]), clients: process.cpuUsage() };
  const outcome = await sendAll(senders, rname, o.perSender, prefix, o.window);
  const total = outcome.sent.flat().length;
  await r.waitFor((p) => p.pushes.length >= total, o.deadlineMs, `${total} dms`).catch(() => {});
  // Where the time goes: CPU per message of the sending servers, the receiving server, and the
  // MCP clients standing in for Claude Code (this process).
  const us = (ticks: number) => Math.round((ticks / clockTicks()) * 1e6 / Math.max(1, total));
  const clients = process.cpuUsage(cpu0.clients);
  return [
    ...check(label, r, outcome, t),
    fig(label, 'CPU per dm: sending server(s)', us(treeTicks(spids) - cpu0.senders), 'µs'),
    fig(label, 'CPU per dm: receiving server', us(treeTicks([r.pid!]) - cpu0.recipient), 'µs'),
    fig(label, 'CPU per dm: MCP clients (bench)', Math.round((clients.user + clients.system) / Math.max(1, total)), 'µs'),
  ];
}

export function backToBack(c: Cluster, o: Omit<LoadOptions, 'senders'>): Promise<Figure[]> {
  const label = `${o.perSender} back-to-back dms (${o.window === 1 ? 'one call at a time' : `${o.window} calls in flight`})`;
  if (o.window > 1) return run(c, label, 'b2bw', { ...o, senders: 1 }, { rate: atLeast(o.targets.acceptedRate), tail: o.targets.tailMs });
  // One call at a time (issue 12): the round trip at most the other server's, the rate at least
  // 1.5 times it, in the same run. Shown beside it, the rate of MCP pings (a request the SDK
  // answers without the server's code): the ceiling of any server's rate one call at a time.
  return run(c, label, 'b2b', { ...o, senders: 1 }, { rate: vs('>=', 1.5), roundTrip: vs('<=', 1), tail: o.targets.tailMs }).then(async (figs) => {
    const sender = c.peers.at(-1)!;
    const t0 = performance.now();
    for (let i = 0; i < o.perSender; i++) await sender.client.ping();
    return [...figs, fig(label, 'ceiling: MCP pings one at a time', Math.round(o.perSender / ((performance.now() - t0) / 1000)), 'msg/s')];
  });
}

export function fanIn(c: Cluster, o: Omit<LoadOptions, 'window'>): Promise<Figure[]> {
  return run(c, `fan-in ${o.senders}x${o.perSender}`, 'fan', { ...o, window: 1 }, {});
}
