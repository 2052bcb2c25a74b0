/**
 * `npm run bench`: the figures of issues 4, 5 and 12, each beside its target. Real servers over
 * stdio, as Claude Code starts them. By default cc-dm runs with the wake path on and off (poll
 * only); with `--compare "<command>"` it runs beside any other MCP server started by that
 * command, the two interleaved (A, B, A, B ...) so that load on the machine affects both alike,
 * and the ratio is printed. `--scenarios scale` runs the growth curves instead (bench/scale.ts).
 *
 *   npm run bench -- [--only dm,broadcast,b2b,b2b-window,fanin,idle,crash,offline] [--mode both|wake|poll]
 *     [--compare "<command>"] [--compare-label NAME] [--repeat N]
 *     [--samples 200] [--broadcasts 100] [--recipients 15] [--messages 2000] [--window 16] [--senders 8]
 *     [--per-sender 250] [--sessions 20] [--idle-seconds 60] [--settle-seconds 60] [--crash-messages 300]
 *     [--down-seconds 5] [--poll-only-ms 500] [--warmup-rounds 1] [--store sqlite|postgres] [--node-args="..."] [--nice=-10] [--json]
 */
import { cpus, loadavg, setPriority } from 'node:os';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Cluster, selfColumn, selfModes, storeFixture, type Column } from './harness.js';
import { SERVER_NODE_FLAGS } from '../src/launch.js';
import { commandArgv } from './client.js';
import { broadcastLatency, dmLatency } from './latency.js';
import { backToBack, fanIn } from './load.js';
import { idle } from './idle.js';
import { crash, offline } from './faults.js';
import { eq, fig, fold, judge, keyOf, table, type Figure } from './report.js';
import { ISSUE_12_ORIGINAL, TARGETS } from './targets.js';
import { scale, SCALE_PARTS } from './scale.js';

const { values: v } = parseArgs({
  options: {
    only: { type: 'string' },
    scenarios: { type: 'string', default: 'default' },
    mode: { type: 'string', default: 'both' },
    compare: { type: 'string' },
    'compare-label': { type: 'string' },
    repeat: { type: 'string', default: '1' },
    samples: { type: 'string', default: '200' },
    broadcasts: { type: 'string', default: '100' },
    recipients: { type: 'string', default: '15' },
    messages: { type: 'string', default: '2000' },
    window: { type: 'string', default: '16' },
    senders: { type: 'string', default: '8' },
    'per-sender': { type: 'string', default: '250' },
    sessions: { type: 'string', default: '20' },
    'idle-seconds': { type: 'string', default: '60' },
    'settle-seconds': { type: 'string', default: '60' },
    'crash-messages': { type: 'string', default: '300' },
    'down-seconds': { type: 'string', default: '5' },
    'poll-only-ms': { type: 'string', default: '500' },
    'warmup-rounds': { type: 'string', default: '1' },
    store: { type: 'string', default: 'sqlite' },
    'node-args': { type: 'string' },
    nice: { type: 'string' },
    // scale scenarios (bench/scale.ts)
    history: { type: 'string', default: '0,100000,1000000' },
    'session-counts': { type: 'string', default: '10,50,100,200' },
    'prune-messages': { type: 'string', default: '1000000' },
    parts: { type: 'string' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

const SCENARIOS = ['dm', 'broadcast', 'b2b', 'b2b-window', 'fanin', 'idle', 'crash', 'offline'] as const;
type Scenario = (typeof SCENARIOS)[number];
/** Scenarios that read cc-dm's store or rely on its mailbox semantics: run for cc-dm only. */
const SELF_ONLY: readonly Scenario[] = ['crash', 'offline'];
/** What `--compare` runs unless --only says otherwise: issue 12's figures. */
const COMPARED: readonly Scenario[] = ['dm', 'broadcast', 'b2b', 'idle'];

function int(name: keyof typeof v, min: number): number {
  const n = Number(v[name]);
  if (!Number.isInteger(n) || n < min) usage(`--${name} must be a whole number >= ${min}`);
  return n;
}

function usage(error?: string): never {
  const text = `usage: npm run bench -- [--scenarios default|scale] [--only ${SCENARIOS.join(',')}] [--mode both|wake|poll]
  [--compare "<server command>"] [--compare-label NAME] [--repeat N]
  [--samples N] [--broadcasts N] [--recipients N] [--messages N] [--window N] [--senders N] [--per-sender N] [--sessions N]
  [--idle-seconds N] [--settle-seconds N] [--crash-messages N] [--down-seconds N] [--poll-only-ms N] [--warmup-rounds N]
  [--store sqlite|postgres] [--node-args="<node flags>"] [--nice=N] [--json]
  scale: [--parts ${SCALE_PARTS.join(',')}] [--history 0,100000,1000000] [--session-counts 10,50,100,200] [--prune-messages N]`;
  process.stderr.write(`${error ? `bench: ${error}\n` : ''}${text}\n`);
  process.exit(error ? 2 : 0);
}

if (v.help) usage();
if (v.scenarios !== 'default' && v.scenarios !== 'scale') usage('--scenarios is default or scale');
if (!['both', 'wake', 'poll'].includes(v.mode!)) usage('--mode is both, wake or poll');
if (v.store !== 'sqlite' && v.store !== 'postgres') usage('--store is sqlite or postgres');
const comparing = v.compare !== undefined;
const only = (v.only?.split(',').map((s) => s.trim()).filter(Boolean) ?? [...(comparing ? COMPARED : SCENARIOS)]) as Scenario[];
for (const s of only) if (!SCENARIOS.includes(s)) usage(`unknown scenario "${s}"`);
const pollOnlyMs = int('poll-only-ms', 50);
const repeat = int('repeat', 1);
const nodeArgs = v['node-args'] !== undefined ? v['node-args'].split(/\s+/).filter(Boolean) : [...SERVER_NODE_FLAGS];
// On a shared machine, a raised priority (inherited by every server started) shields the figures
// from other work, approaching the quiet machine the targets assume. Printed with the figures.
if (v.nice !== undefined) {
  try { setPriority(Number(v.nice)); } catch (e) { usage(`--nice ${v.nice}: ${(e as Error).message} (a negative value needs root)`); }
}

const log = (s: string) => process.stderr.write(`${s}\n`);
const load1 = () => Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);

const columns: Column[] = comparing
  ? [selfColumn('cc-dm', 'cc-dm', nodeArgs), { key: 'other', label: v['compare-label'] ?? 'other', argv: commandArgv(v.compare!), env: {}, self: false }]
  : selfModes(v.mode!, pollOnlyMs, nodeArgs);

async function scenario(name: Scenario, c: Cluster): Promise<Figure[]> {
  // Generous deadlines: a poll-only run (or another server) waits a poll period per hop.
  const deadlineMs = 15_000 + (c.column.key === 'poll-only' ? 3 * pollOnlyMs : 0) + (c.self ? 0 : 5_000);
  const warmupRounds = int('warmup-rounds', 0);
  const targets = TARGETS[v.store as 'sqlite' | 'postgres'];
  const lat = { samples: int('samples', 1), maxGapMs: 100, warmup: 20, deadlineMs, targets };
  switch (name) {
    case 'dm': return dmLatency(c, lat);
    case 'broadcast': return broadcastLatency(c, { ...lat, recipients: int('recipients', 1), broadcasts: int('broadcasts', 1) });
    case 'b2b': return backToBack(c, { perSender: int('messages', 1), window: 1, deadlineMs: deadlineMs + 30_000, warmupRounds, targets });
    case 'b2b-window': return backToBack(c, { perSender: int('messages', 1), window: int('window', 1), deadlineMs: deadlineMs + 30_000, warmupRounds, targets });
    case 'fanin': return fanIn(c, { senders: int('senders', 1), perSender: int('per-sender', 1), deadlineMs: deadlineMs + 30_000, warmupRounds, targets });
    case 'idle': return idle(c, { sessions: int('sessions', 1), idleSeconds: int('idle-seconds', 1), settleMs: int('settle-seconds', 0) * 1000, targets });
    case 'crash': return crash(c, { messages: int('crash-messages', 3), sizeBytes: 2048, deadlineMs: deadlineMs + 30_000 });
    case 'offline': return offline(c, { messages: 5, downSeconds: int('down-seconds', 0), deadlineMs });
  }
}

const { fixture, stop } = await storeFixture(v.store as 'sqlite' | 'postgres');
const started = Date.now();
const loadBefore = load1();
const loads: number[] = [loadBefore];

if (v.scenarios === 'scale') {
  try {
    const parts = v.parts?.split(',').map((s) => s.trim()).filter(Boolean) ?? [...SCALE_PARTS];
    for (const p of parts) if (!(SCALE_PARTS as readonly string[]).includes(p)) usage(`unknown scale part "${p}"`);
    const out = await scale({
      fixture, store: v.store as 'sqlite' | 'postgres', nodeArgs, parts,
      history: v.history!.split(',').map(Number), sessionCounts: v['session-counts']!.split(',').map(Number),
      pruneMessages: int('prune-messages', 1), log,
    });
    const machine = { cpus: cpus().length, cpu: cpus()[0]?.model ?? '?', node: process.version, load_before: loadBefore, load_after: load1() };
    if (v.json) process.stdout.write(`${JSON.stringify({ machine, setup: { store: v.store, node_args: nodeArgs }, ...out.json }, null, 2)}\n`);
    else {
      console.log(`\ncc-dm bench, scale: ${machine.cpus} CPU(s) ${machine.cpu}, Node ${machine.node}, load average ${loadBefore.toFixed(2)} before, ${machine.load_after.toFixed(2)} after`);
      console.log(`store ${v.store}; servers launched as the plugin does: node ${nodeArgs.join(' ') || '(no flags)'} bin/cc-dm.js serve\n`);
      console.log(out.text);
      console.log(`\n${out.missed ? `${out.missed} target(s) missed` : 'every target met'} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    }
    process.exitCode = out.missed ? 1 : 0;
  } finally {
    await stop();
  }
} else {
  const runs: Record<string, Record<string, Figure[][]>> = Object.fromEntries(columns.map((c) => [c.key, {}]));
  try {
    for (let rep = 0; rep < repeat; rep++) {
      for (const name of only) {
        // Interleaved: A, B, then B, A on the next round, so neither always runs first.
        const order = rep % 2 === 0 ? columns : [...columns].reverse();
        for (const col of order) {
          if (!col.self && SELF_ONLY.includes(name)) continue;
          const t0 = Date.now();
          const c = await Cluster.create(fixture, col);
          let figs: Figure[];
          try {
            figs = await scenario(name, c);
          } catch (e) {
            figs = [{ scenario: name, metric: 'failed', value: Number.NaN, unit: '', pass: false, note: (e as Error).message }];
          } finally {
            await c.close();
          }
          if (c.startFailures.length) figs.push({ ...fig(name, 'server start failures (retried once)', c.startFailures.length, '', eq(0)), note: c.startFailures.join('; ') });
          (runs[col.key]![name] ??= []).push(figs);
          loads.push(load1());
          log(`  ${col.label.padEnd(12)} ${name.padEnd(10)} run ${rep + 1}/${repeat} ${((Date.now() - t0) / 1000).toFixed(1)} s, load ${loads.at(-1)!.toFixed(2)}`);
        }
      }
    }
  } finally {
    await stop();
  }
  const results: Record<string, Figure[]> = {};
  for (const col of columns) results[col.key] = only.flatMap((n) => (runs[col.key]![n] ? fold(runs[col.key]![n]!) : []));
  // Targets relative to the compared server, judged on the first column against the second.
  if (comparing) {
    const theirs = new Map(results['other']!.map((f) => [keyOf(f), f.value]));
    for (const f of results['cc-dm']!) if (f.target?.factor !== undefined) f.pass = judge(f.value, f.target, theirs.get(keyOf(f)));
  }
  const first = columns[0]!.key;
  const machine = { cpus: cpus().length, cpu: cpus()[0]?.model ?? '?', node: process.version, platform: `${process.platform} ${process.arch}`, load_before: loadBefore, load_after: load1(), load_max: Math.max(...loads) };
  const setup = { store: v.store, node_args: nodeArgs, columns: columns.map((c) => ({ key: c.key, label: c.label, argv: c.argv, env: c.env })), repeat, nice: v.nice !== undefined ? Number(v.nice) : 0 };
  const failed = (results[first] ?? []).filter((f) => f.pass === false);
  if (v.json) {
    process.stdout.write(`${JSON.stringify({ machine, setup, seconds: (Date.now() - started) / 1000, results }, null, 2)}\n`);
  } else {
    console.log(`\ncc-dm bench: ${machine.cpus} CPU(s) ${machine.cpu}, Node ${machine.node}, load average (1 min) ${loadBefore.toFixed(2)} before, ${machine.load_after.toFixed(2)} after, ${machine.load_max.toFixed(2)} at most`);
    console.log(`store ${v.store}; cc-dm launched as the plugin does: node ${nodeArgs.join(' ') || '(no flags)'} bin/cc-dm.js serve${setup.nice ? `; bench and servers at nice ${setup.nice}` : ''}`);
    if (comparing) console.log(`compared with: ${columns[1]!.label} = ${v.compare}; interleaved, ${repeat} run(s) each: median [min-max]; targets apply to cc-dm (✓ met, ✗ missed)\n`);
    else console.log(`poll-only: CC_DM_WAKE=0 CC_DM_POLL_MS=${pollOnlyMs}; ${repeat} run(s): median [min-max]; targets apply to the wake path (✓ met, ✗ missed)${v.store === 'postgres' ? '; on PostgreSQL, issue 7 sets the dm latency targets only' : ''}\n`);
    console.log(table(columns, results, comparing ? { ratio: true, reference: ISSUE_12_ORIGINAL, referenceLabel: 'cc-dm 1.3.1 in issue 12' } : {}));
    const notes = Object.values(results).flat().filter((f) => f.note && (f.pass === false || f.metric === 'failed'));
    for (const f of notes) console.log(`  note: ${f.scenario} ${f.metric}: ${f.note}`);
    console.log(`\n${failed.length ? `${failed.length} target(s) missed by ${columns[0]!.label}` : `every target met by ${columns[0]!.label}`} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  }
  process.exitCode = failed.length ? 1 : 0;
}
