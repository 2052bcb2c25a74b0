/**
 * Faults (issue 4): a recipient crashed mid-batch, and a recipient that is down while mail is
 * sent to it. What the store says was delivered is read through the store itself.
 */
import { loadConfig } from '../src/config.js';
import { openStore } from '../src/store/open.js';
import type { BenchPeer as Peer } from './client.js';
import { gone, send, type Cluster } from './harness.js';
import { fig, eq, le, type Figure } from './report.js';
import { sleep } from './stats.js';

export interface CrashOptions {
  messages: number;
  sizeBytes: number;
  deadlineMs: number;
}

async function markedDelivered(c: Cluster, ids: string[], recipientKey: string): Promise<Set<string>> {
  const store = await openStore(loadConfig(c.env));
  try {
    const out = new Set<string>();
    for (const id of ids) {
      const t = await store.trace(id);
      if (t?.deliveries.some((d) => d.recipient_key === recipientKey && d.state !== 'queued')) out.add(id);
    }
    return out;
  } finally {
    await store.close();
  }
}

/**
 * SIGSTOP the recipient while N messages of ~2 KB queue, SIGCONT, SIGKILL once its client has
 * got about a third, restart it under the same name: everything must arrive across the two
 * incarnations, and nothing the first marked delivered may be pushed again.
 */
export async function crash(c: Cluster, o: CrashOptions): Promise<Figure[]> {
  const r1 = await c.start('crash-r');
  const s = await c.start('crash-s');
  const pid = r1.pid!;
  process.kill(pid, 'SIGSTOP');
  const pad = 'x'.repeat(Math.max(0, o.sizeBytes - 20));
  const ids: string[] = [];
  let errors = 0;
  for (let i = 0; i < o.messages; i++) {
    const r = await send(s, 'dm', { to: 'crash-r', content: `crash ${i} ${pad}` });
    if (r.id) ids.push(r.id); else errors++;
  }
  process.kill(pid, 'SIGCONT');
  const third = Math.floor(o.messages / 3);
  await r1.waitFor((p) => p.pushes.length >= third, o.deadlineMs, 'a third of the batch').catch(() => {});
  const atKill = r1.pushes.length;
  process.kill(pid, 'SIGKILL');
  await gone(pid);
  await sleep(50); // what the pipe still held reaches the first client
  const first = new Set(r1.pushes.map((p) => p.meta.message_id!));
  const marked = await markedDelivered(c, ids, 'crash-r');

  const r2 = await c.start('crash-r');
  const missing = () => ids.filter((id) => !first.has(id) && !r2.pushes.some((p) => p.meta.message_id === id)).length;
  await r2.waitFor(() => missing() === 0, o.deadlineMs, 'the rest of the batch').catch(() => {});
  const second = r2.pushes.map((p) => p.meta.message_id!);
  const all = [...r1.pushes.map((p) => p.meta.message_id!), ...second];
  const duplicates = all.length - new Set(all).size;
  const repushed = second.filter((id) => marked.has(id)).length;
  let outOfOrder = 0;
  const index = new Map(ids.map((id, i) => [id, i]));
  for (const list of [r1.pushes, r2.pushes]) {
    let prev = -1;
    for (const p of list) {
      const i = index.get(p.meta.message_id!) ?? -1;
      if (i < prev) outOfOrder++;
      prev = Math.max(prev, i);
    }
  }
  const label = `crash: ${o.messages} x ${(o.sizeBytes / 1024).toFixed(0)} KB`;
  return [
    fig(label, 'send errors', errors, '', eq(0)),
    fig(label, 'pushed to the 1st incarnation', first.size, '', undefined, `killed at ${atKill} received`),
    fig(label, 'marked delivered by the 1st', marked.size, ''),
    fig(label, 'lost across both', missing(), '', eq(0)),
    fig(label, 'duplicates (in flight at the kill)', duplicates, '', le(5)),
    fig(label, 'marked delivered, pushed again', repushed, '', eq(0)),
    fig(label, 'out of order (per incarnation)', outOfOrder, '', eq(0)),
  ];
}

export interface OfflineOptions {
  messages: number;
  downSeconds: number;
  deadlineMs: number;
}

/** The recipient SIGKILLed, N dms sent to its name, restarted some seconds later: all arrive, in order. */
export async function offline(c: Cluster, o: OfflineOptions): Promise<Figure[]> {
  const r1: Peer = await c.start('off-r');
  const s = await c.start('off-s');
  const pid = r1.pid!;
  process.kill(pid, 'SIGKILL');
  await gone(pid);
  const ids: string[] = [];
  let wrong = 0;
  for (let i = 0; i < o.messages; i++) {
    const r = await send(s, 'dm', { to: 'off-r', content: `offline ${i}` });
    if (r.id) ids.push(r.id);
    if (!r.id || r.body.state !== 'queued' || r.body.recipient_online !== false) wrong++;
  }
  await sleep(o.downSeconds * 1000);
  const t0 = performance.now();
  const r2 = await c.start('off-r');
  await r2.waitFor((p) => p.pushes.length >= ids.length, o.deadlineMs, 'the queued dms').catch(() => {});
  const got = r2.pushes.map((p) => p.meta.message_id!);
  const inOrder = got.length === ids.length && got.every((id, i) => id === ids[i]);
  const label = `offline: ${o.messages} dms, back after ${o.downSeconds} s`;
  return [
    fig(label, 'sends not "queued, offline"', wrong, '', eq(0)),
    fig(label, 'arrived in order', inOrder ? got.length : 0, '', eq(o.messages)),
    fig(label, 'restart to last arrival', r2.pushes.length >= ids.length ? r2.pushes[ids.length - 1]!.at - t0 : Number.NaN, 'ms'),
  ];
}
