/**
 * `cc-dm demo`: starts real channel servers over stdio, exactly as Claude Code does, in a
 * throwaway store, and shows messages flowing between them with their latency.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Peer } from '../channel/peer.js';
import { c } from './format.js';

const NAMES = ['planner', 'backend', 'tests', 'docs', 'reviewer', 'frontend', 'ops', 'data', 'security', 'perf'];

export async function demo(o: { sessions: number; messages: number }): Promise<void> {
  const home = mkdtempSync(join(tmpdir(), 'cc-dm-demo-'));
  const names = Array.from({ length: o.sessions }, (_, i) => NAMES[i % NAMES.length]! + (i >= NAMES.length ? `-${i}` : ''));
  console.log(c.bold(`cc-dm demo: ${names.length} channel servers over stdio, store ${join(home, 'bus.db')}`));
  const t0 = performance.now();
  const peers = await Promise.all(
    names.map((name, i) => Peer.start({ home, name, env: { CC_DM_SESSION_ROLE: i === 0 ? 'planner' : 'worker' } })),
  );
  console.log(`started ${peers.length} servers in ${(performance.now() - t0).toFixed(0)} ms`);
  try {
    const who = await peers[0]!.call('who');
    for (const s of who.body.sessions) console.log(`  ${c.green(s.name)}  role=${s.role ?? '-'}  pid-cwd=${s.cwd}`);
    const latencies: number[] = [];
    for (let i = 0; i < o.messages; i++) {
      const from = peers[i % peers.length]!;
      const toIdx = (i + 1) % peers.length;
      const to = peers[toIdx]!;
      const before = to.pushes.length;
      const content = `message ${i + 1}: ${names[i % peers.length]} asks ${names[toIdx]} to look at step ${i + 1}`;
      const sent = performance.now();
      const r = await from.call('dm', { to: names[toIdx], content, message_type: 'task', thread_id: 'demo' });
      if (r.isError) throw new Error(r.body.error);
      await to.waitFor((p) => p.pushes.length > before, 5000, `${names[toIdx]} to receive message ${i + 1}`);
      const got = to.pushes[to.pushes.length - 1]!;
      const ms = got.at - sent;
      latencies.push(ms);
      console.log(`${c.dim(ms.toFixed(1).padStart(6) + ' ms')}  ${got.meta.from_session} -> ${got.meta.to_session}: ${got.content}`);
    }
    const offline = peers[peers.length - 1]!;
    const offlineName = names[names.length - 1]!;
    await offline.close();
    const r = await peers[0]!.call('dm', { to: offlineName, content: 'this waits in your mailbox until you are back' });
    console.log(`${offlineName} stopped; dm to it: state=${r.body.state}, recipient_online=${r.body.recipient_online}`);
    const back = await Peer.start({ home, name: offlineName });
    await back.waitFor((p) => p.pushes.length > 0, 10000, `${offlineName} to get its queued mail`);
    console.log(`${offlineName} restarted and received: "${back.pushes[0]!.content}"`);
    peers[peers.length - 1] = back;
    const sorted = [...latencies].sort((a, b) => a - b);
    console.log(
      c.bold(
        `latency over ${sorted.length} dm(s): median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(1)} ms, max ${sorted.at(-1)!.toFixed(1)} ms`,
      ),
    );
  } finally {
    await Promise.all(peers.map((p) => p.close()));
    rmSync(home, { recursive: true, force: true });
  }
}
