/**
 * Latency: from the sender's tools/call to the notification arriving at the recipient's MCP
 * client (both clients live in this process, so both times come from one performance.now()).
 * Sends go one after another at random 0-100 ms gaps, without waiting for the arrival, so a
 * poll-only run costs the same wall time as a wake run. A push is matched to its send by its
 * content (unique per send), so any server can be measured.
 */
import type { BenchPeer } from './client.js';
import type { Cluster } from './harness.js';
import { ready, send } from './harness.js';
import { fig, eq, type Figure } from './report.js';
import { atMost, type PerfTargets } from './targets.js';
import { gap, percentile, sleep } from './stats.js';

export interface LatencyOptions {
  samples: number;
  maxGapMs: number;
  /** Unmeasured dms first (JIT warm-up of a fresh server; a real session is long-lived). */
  warmup: number;
  deadlineMs: number;
  targets: PerfTargets;
}

async function arrivals(recipients: BenchPeer[], contents: string[], deadlineMs: number): Promise<Map<string, number>[]> {
  const want = new Set(contents);
  await Promise.all(recipients.map((r) =>
    r.waitFor((p) => p.pushes.filter((x) => want.has(x.content)).length >= want.size, deadlineMs, 'every measured message').catch(() => {})));
  return recipients.map((r) => new Map(r.pushes.map((x) => [x.content, x.at])));
}

export async function dmLatency(c: Cluster, o: LatencyOptions): Promise<Figure[]> {
  const a = await c.start('lat-a');
  const b = await c.start('lat-b');
  await ready(a, b, o.deadlineMs);
  for (let i = 0; i < o.warmup; i++) await send(a, 'dm', { to: 'lat-b', content: `warm-up ${i}` });
  const sent = new Map<string, number>();
  let errors = 0;
  for (let i = 0; i < o.samples; i++) {
    const content = `sample ${i}`;
    const t0 = performance.now();
    const r = await send(a, 'dm', { to: 'lat-b', content });
    if (r.ok) sent.set(content, t0);
    else errors++;
    await sleep(gap(o.maxGapMs));
  }
  const [got] = await arrivals([b], [...sent.keys()], o.deadlineMs);
  const lat: number[] = [];
  let lost = 0;
  for (const [content, t0] of sent) {
    const at = got!.get(content);
    if (at === undefined) lost++;
    else lat.push(at - t0);
  }
  return [
    fig('dm A->B', 'p50', percentile(lat, 50), 'ms', atMost(o.targets.dmP50Ms)),
    fig('dm A->B', 'p99', percentile(lat, 99), 'ms', atMost(o.targets.dmP99Ms)),
    fig('dm A->B', 'max', Math.max(...lat), 'ms'),
    fig('dm A->B', 'send errors + lost', errors + lost, '', eq(0)),
  ];
}

export async function broadcastLatency(c: Cluster, o: LatencyOptions & { recipients: number; broadcasts: number }): Promise<Figure[]> {
  const from = await c.start('bc-from');
  const rs: BenchPeer[] = [];
  for (let i = 0; i < o.recipients; i++) rs.push(await c.start(`bc-${i}`));
  await Promise.all(rs.map((r) => ready(from, r, o.deadlineMs)));
  const warm = Math.min(o.warmup, 10);
  for (let i = 0; i < warm; i++) await send(from, 'broadcast', { content: `warm-up ${i}` });
  await Promise.all(rs.map((r) => r.waitFor((p) => p.pushes.filter((x) => x.content.startsWith('warm-up')).length >= warm, o.deadlineMs, 'warm-up').catch(() => {})));
  const sent = new Map<string, number>();
  let errors = 0;
  for (let i = 0; i < o.broadcasts; i++) {
    const content = `broadcast ${i}`;
    const t0 = performance.now();
    const r = await send(from, 'broadcast', { content });
    if (r.ok) sent.set(content, t0);
    else errors++;
    await sleep(gap(o.maxGapMs));
  }
  const got = await arrivals(rs, [...sent.keys()], o.deadlineMs);
  const lat: number[] = [];
  let lost = 0;
  for (const m of got) {
    for (const [content, t0] of sent) {
      const at = m.get(content);
      if (at === undefined) lost++;
      else lat.push(at - t0);
    }
  }
  const label = `broadcast 1->${o.recipients}`;
  return [
    fig(label, 'p50 (all recipients)', percentile(lat, 50), 'ms'),
    fig(label, 'p99 (all recipients)', percentile(lat, 99), 'ms', atMost(o.targets.broadcastP99Ms)),
    fig(label, 'send errors + lost', errors + lost, '', eq(0)),
  ];
}
