/**
 * Where a dm's CPU goes, one call at a time (issue 12, target 1): two cc-dm servers started as
 * the plugin does, warm-up dms, then N dms each sent when the previous call returned. Prints the
 * rate, the round trip and the exact CPU per dm of each server (schedstat) and of this process
 * (the MCP clients); with `--profile`, the servers also run under `--cpu-prof` and each one's
 * profile is summed by where the time went (self time per group of functions, then the top
 * functions). The profiler samples wall time on the main thread: a write that wakes another
 * process, or a pause waiting for the write lock, counts while the thread is off the CPU. Rounds
 * (`--rounds`) start fresh servers each time; the figures of each round are printed.
 *
 *   npm run build && node dist/bench/profile.js [--rounds 3] [--messages 3000] [--warmup 1000] [--profile] [--keep DIR] [--node-args="..."]
 *   CC_DM_BENCH_ROOT=<another build> node dist/bench/profile.js     # the same for another build (A/B)
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Cluster, ready, selfColumn, send, storeFixture } from './harness.js';
import { SERVER_NODE_FLAGS } from '../src/launch.js';
import { schedSeconds } from './proc.js';
import { percentile } from './stats.js';

interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
interface Profile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }

/** Groups a frame by what it belongs to (the order matters: the first match wins). */
const GROUPS: [string, RegExp][] = [
  ['(garbage collector)', /^\(garbage collector\)$/],
  ['(idle)', /^\(idle\)$/],
  ['(program)', /^\(program\)$/],
  ['zod', /node_modules\/zod\//],
  ['MCP SDK', /node_modules\/@modelcontextprotocol\//],
  ['better-sqlite3', /node_modules\/better-sqlite3\//],
  ['pg', /node_modules\/pg/],
  ['cc-dm store', /\/dist\/src\/store\//],
  ['cc-dm bus', /\/dist\/src\/bus\//],
  ['cc-dm wake', /\/dist\/src\/wake\//],
  ['cc-dm channel', /\/dist\/src\/channel\//],
  ['cc-dm other', /\/dist\/src\//],
  ['node: net/stream', /^node:(net|stream|internal\/(stream|net|streams))/],
  ['node: other', /^node:/],
];

function groupOf(n: ProfileNode): string {
  const key = n.callFrame.url || n.callFrame.functionName;
  for (const [g, re] of GROUPS) if (re.test(key)) return g;
  return n.callFrame.url ? 'other' : `(native) ${n.callFrame.functionName || '(anonymous)'}`;
}

/** Self time per group and per function, in µs, and the whole time sampled (idle excluded). */
function summarize(p: Profile): { busy: number; groups: Map<string, number>; fns: Map<string, number> } {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  p.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const groups = new Map<string, number>();
  const fns = new Map<string, number>();
  let busy = 0;
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const g = groupOf(n);
    if (g === '(idle)') continue;
    busy += us;
    groups.set(g, (groups.get(g) ?? 0) + us);
    const f = `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*\/(node_modules|dist)\//, '')}:${n.callFrame.lineNumber + 1}`;
    fns.set(f, (fns.get(f) ?? 0) + us);
  }
  return { busy, groups, fns };
}

const top = (m: Map<string, number>, n: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      messages: { type: 'string', default: '3000' },
      warmup: { type: 'string', default: '1000' },
      keep: { type: 'string' },
      'node-args': { type: 'string' },
      top: { type: 'string', default: '25' },
      profile: { type: 'boolean', default: false },
      rounds: { type: 'string', default: '1' },
    },
  });
  for (let round = 1; round <= Number(values.rounds); round++) await oneRound(values, round);
}

async function oneRound(values: { messages: string; warmup: string; keep?: string; 'node-args'?: string; top: string; profile: boolean }, round: number): Promise<void> {
  const messages = Number(values.messages);
  const dir = values.keep ?? mkdtempSync(join(tmpdir(), 'ccdm-prof-'));
  const nodeArgs = values['node-args'] !== undefined ? values['node-args'].split(/\s+/).filter(Boolean) : [...SERVER_NODE_FLAGS];
  const column = selfColumn('prof', 'profiled', values.profile ? [...nodeArgs, '--cpu-prof', `--cpu-prof-dir=${dir}`, '--cpu-prof-interval=50'] : nodeArgs);
  const { fixture, stop } = await storeFixture('sqlite');
  const c = await Cluster.create(fixture, column);
  const r = await c.start('prof-r');
  const s = await c.start('prof-s');
  await ready(s, r);
  const run = async (n: number, tag: string) => {
    const rtt: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const res = await send(s, 'dm', { to: 'prof-r', content: `${tag} ${i}` });
      rtt.push(performance.now() - t0);
      if (!res.ok) throw new Error(`dm ${i} failed: ${res.error}`);
    }
    await r.waitFor((p) => p.pushes.filter((x) => x.content.startsWith(`${tag} `)).length >= n, 30_000, `${n} dms`);
    return rtt;
  };
  await run(Number(values.warmup), 'warm');
  const cpu0 = { s: schedSeconds(s.pid!), r: schedSeconds(r.pid!), c: process.cpuUsage() };
  const t0 = performance.now();
  const rtt = await run(messages, 'measured');
  const wall = performance.now() - t0;
  const cpu = { s: schedSeconds(s.pid!) - cpu0.s, r: schedSeconds(r.pid!) - cpu0.r, c: process.cpuUsage(cpu0.c) };
  const per = (sec: number) => `${Math.round((sec * 1e6) / messages)} µs`;
  console.log(`round ${round}: one call at a time, ${messages} dms after ${values.warmup} warm-up, flags: ${nodeArgs.join(' ') || '(none)'}, load ${loadavg()[0]!.toFixed(2)}`);
  console.log(`rate ${Math.round(messages / (wall / 1000))} msg/s; round trip p50 ${percentile(rtt, 50).toFixed(3)} ms, p99 ${percentile(rtt, 99).toFixed(3)} ms`);
  console.log(`CPU per dm (schedstat): sender ${per(cpu.s)}, recipient ${per(cpu.r)}; MCP clients (this process) ${per((cpu.c.user + cpu.c.system) / 1e6)}`);
  await c.close();
  await stop();
  if (!values.profile) return;
  console.log('(profiles include start-up and warm-up; the shares below are of the whole run)');
  // Each server writes its profile as it exits.
  const deadline = Date.now() + 10_000;
  while (readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).length < 2 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort();
  for (const [i, f] of files.entries()) {
    const sum = summarize(JSON.parse(readFileSync(join(dir, f), 'utf8')) as Profile);
    console.log(`\n${i === 0 ? 'recipient (started first)' : 'sender'}: ${f}, ${(sum.busy / 1000).toFixed(0)} ms busy`);
    for (const [g, us] of top(sum.groups, 20)) console.log(`  ${((100 * us) / sum.busy).toFixed(1).padStart(5)} %  ${g}`);
    console.log('  top functions (self):');
    for (const [fn, us] of top(sum.fns, Number(values.top))) console.log(`  ${((100 * us) / sum.busy).toFixed(1).padStart(5)} %  ${fn}`);
  }
  if (!values.keep) rmSync(dir, { recursive: true, force: true });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
