/**
 * Idle cost and start time: N sessions started one after another (each timed from spawn to the
 * end of the MCP handshake, when Claude Code can use it), then left alone. CPU is utime + stime
 * of every session's whole process tree over the idle window; memory is each tree's resident
 * set at its end.
 */
import type { Cluster } from './harness.js';
import { processTree, treeCpuSeconds, treeRssMb } from './proc.js';
import { fig, type Figure } from './report.js';
import { atMost, type PerfTargets } from './targets.js';
import { median, percentile, sleep } from './stats.js';

export interface IdleOptions {
  sessions: number;
  idleSeconds: number;
  /**
   * Left out of the window (and shown apart): the first seconds after the last start, when V8's
   * memory reducer runs its full GCs (about 40 ms of CPU per server, some 8 s after start).
   */
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
  const trees = pids.flatMap((p) => processTree(p));
  const atReady = treeCpuSeconds(trees);
  await sleep(o.settleMs);
  const before = treeCpuSeconds(trees);
  await sleep(o.idleSeconds * 1000);
  const cpu = treeCpuSeconds(trees) - before;
  const rss = pids.map((p) => treeRssMb(p));
  const label = `${o.sessions} idle sessions, ${o.idleSeconds} s`;
  return [
    fig(label, 'CPU, all process trees', cpu, 's', atMost(o.targets.idleCpuS && o.targets.idleCpuS * o.sessions / 20 * o.idleSeconds / 30)),
    fig(label, `CPU in the ${o.settleMs / 1000} s before (start-up GCs)`, before - atReady, 's'),
    fig(label, 'RSS per session (median)', median(rss), 'MB', atMost(o.targets.rssMb)),
    fig(label, 'RSS per session (max)', Math.max(...rss), 'MB'),
    fig('server start', 'start to ready (median)', median(ready), 'ms', atMost(o.targets.startMs)),
    fig('server start', 'start to ready (p90)', percentile(ready, 90), 'ms'),
  ];
}
