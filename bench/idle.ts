/**
 * Idle cost and start time: N sessions started one after another (each timed from spawn to the
 * end of the MCP handshake, when Claude Code can use it), then left alone. CPU is utime + stime
 * (from /proc/<pid>/stat) of every session's whole process tree over the idle window, which
 * starts `settleMs` after the last start; memory is each tree's resident set at its end.
 *
 * Issue 12 measures 60 s after start over 60 s: the window must hold everything a server does
 * periodically (cc-dm's once-a-minute housekeeping), or the figure is too good.
 */
import type { Cluster } from './harness.js';
import { processTree, treeCpuSeconds, treeRssMb, schedSeconds } from './proc.js';
import { fig, type Figure } from './report.js';
import { atMost, type PerfTargets } from './targets.js';
import { median, percentile, sleep } from './stats.js';

export interface IdleOptions {
  sessions: number;
  idleSeconds: number;
  /** Left out of the window (and shown apart): start-up work, V8's memory reducer GCs. */
  settleMs: number;
  targets: PerfTargets;
}

export async function idle(c: Cluster, o: IdleOptions): Promise<Figure[]> {
  const ready: number[] = [];
  for (let i = 0; i < o.sessions; i++) {
    const t0 = performance.now();
    await c.start(`idle-${i}`);
    ready.push(performance.now() - t0);
  }
  const pids = c.peers.map((p) => p.pid!).filter(Boolean);
  const trees = pids.map((p) => processTree(p));
  const all = trees.flat();
  const atReady = treeCpuSeconds(all);
  await sleep(o.settleMs);
  const before = treeCpuSeconds(all);
  const exact0 = all.reduce((t, p) => t + schedSeconds(p), 0);
  const perTree0 = trees.map((t) => t.reduce((s, p) => s + schedSeconds(p), 0));
  await sleep(o.idleSeconds * 1000);
  const cpu = treeCpuSeconds(all) - before;
  const exact = all.reduce((t, p) => t + schedSeconds(p), 0) - exact0;
  const perTree = trees.map((t, i) => t.reduce((s, p) => s + schedSeconds(p), 0) - perTree0[i]!);
  const rss = pids.map((p) => treeRssMb(p));
  const label = `${o.sessions} idle sessions, ${o.idleSeconds} s`;
  const target = o.targets.idleCpuS && o.targets.idleCpuS * o.sessions / 20 * o.idleSeconds / 30;
  return [
    fig(label, `CPU, all process trees (${o.settleMs / 1000} s after start)`, cpu, 's', atMost(target)),
    fig(label, 'CPU, exact (schedstat), all processes', exact, 's', atMost(target)),
    fig(label, 'CPU per session per 30 s (exact, median)', median(perTree) * 30 / o.idleSeconds, 's'),
    fig(label, `CPU in the ${o.settleMs / 1000} s before (start-up)`, before - atReady, 's'),
    fig(label, 'RSS per session (median)', median(rss), 'MB', atMost(o.targets.rssMb)),
    fig(label, 'RSS per session (max)', Math.max(...rss), 'MB'),
    fig('server start', 'start to ready (median)', median(ready), 'ms', atMost(o.targets.startMs)),
    fig('server start', 'start to ready (p90)', percentile(ready, 90), 'ms'),
  ];
}
