/**
 * `npm run bench -- --scenarios scale`: how cc-dm's figures move as the store and the team grow
 * (issue 12, "flat as it grows"). Three parts, each printed as a curve (one row per figure, one
 * column per size, and the ratio of the largest size to the smallest):
 *
 * - history: a store holding 0, 100,000 and 1,000,000 messages (seeded in the store's own schema:
 *   opened once through cc-dm so that it migrates, then rows bulk-inserted in big transactions,
 *   the full-text index built as the minute's housekeeping would have): dm latency, server start,
 *   `who`, `history`, a search, the CLI's `cc-dm search`, and the console's first page. Target:
 *   each within 1.5 times its empty-store figure; a search within 50 ms at 1 M.
 * - sessions: 10, 50, 100, 200 live sessions: dm latency, broadcast to all, `who`, idle CPU and
 *   memory per session. Target: cost per session flat.
 * - prune: `cc-dm prune` of 1,000,000 old messages while sessions send: no send error, dm p99
 *   during the prune at most 50 ms, the database file smaller afterwards.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, statSync } from 'node:fs';
import { freemem } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import type { StoreFixture } from '../test/support/stores.js';
import { loadConfig } from '../src/config.js';
import { openStore } from '../src/store/open.js';
import type { BenchPeer } from './client.js';
import { BIN, Cluster, ready, selfColumn, send } from './harness.js';
import { schedSeconds, treeRssMb } from './proc.js';
import { show } from './report.js';
import { gap, median, percentile, sleep } from './stats.js';

export const SCALE_PARTS = ['history', 'sessions', 'prune'] as const;

export interface ScaleOptions {
  fixture: StoreFixture;
  store: 'sqlite' | 'postgres';
  nodeArgs: string[];
  parts: string[];
  history: number[];
  sessionCounts: number[];
  pruneMessages: number;
  log(s: string): void;
}

interface Row { metric: string; unit: string; values: number[]; target?: string; pass?: boolean }

const DAY = 86_400_000;
const WORDS = ('plan build test review merge deploy schema index query cache lock commit branch release patch module session '
  + 'message thread broadcast approve deny retry timeout queue mailbox push doorbell wake poll store table column migrate '
  + 'vacuum prune search console roster history worker planner tester reviewer frontend backend api client server').split(' ');

/** A word that occurs in about one message in 10,000: what a search looks for. */
const RARE = 'zanzibar';

// --- seeding -------------------------------------------------------------------------------------

/**
 * Fills a migrated store with `n` delivered dms between 50 names, sent between `oldestDays` and
 * `newestDays` ago, and indexes their text, in the store's own schema.
 */
export async function seed(env: Record<string, string>, n: number, o: { oldestDays: number; newestDays: number; log(s: string): void }): Promise<void> {
  const cfg = loadConfig(env);
  const store = await openStore(cfg); // creates and migrates, as a first server would
  await store.close();
  if (n === 0) return;
  const t0 = Date.now();
  const names = Array.from({ length: 50 }, (_, i) => `hist-${i}`);
  const now = Date.now();
  const span = (o.oldestDays - o.newestDays) * DAY;
  let rnd = 12345;
  const rand = () => ((rnd = (rnd * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const content = (i: number) => {
    const w: string[] = [];
    for (let k = 0; k < 10; k++) w.push(WORDS[Math.floor(rand() * WORDS.length)]!);
    if (i % 10_000 === 7) w.push(RARE);
    return `${w.join(' ')} #${i}`;
  };
  const row = (i: number) => {
    const a = Math.floor(rand() * names.length);
    const b = (a + 1 + Math.floor(rand() * (names.length - 1))) % names.length;
    const sent = now - o.oldestDays * DAY + Math.floor((i / n) * span);
    return { i, from: names[a]!, to: names[b]!, sent, text: content(i), thread: i % 7 === 0 ? `t-${i % 500}` : null };
  };
  if (cfg.storeKind === 'sqlite') {
    const db = new Database(cfg.dbPath);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = OFF');
    const nameIns = db.prepare('INSERT OR IGNORE INTO names (key, display, created_at, last_held_at) VALUES (?, ?, ?, ?)');
    for (const nm of names) nameIns.run(nm, nm, now - o.oldestDays * DAY, now - o.newestDays * DAY);
    const msg = db.prepare(`INSERT INTO messages (id, kind, from_name, from_key, from_session, sender_kind, to_name, project, content,
        priority, message_type, thread_id, sent_at, expires_at) VALUES (?, 'dm', ?, ?, NULL, 'session', ?, NULL, ?, NULL, NULL, ?, ?, ?)`);
    const del = db.prepare(`INSERT INTO deliveries (message_seq, recipient_key, recipient_name, state, queued_at, delivered_at, delivered_via)
        VALUES (?, ?, ?, 'delivered', ?, ?, 'push')`);
    const BATCH = 50_000;
    for (let start = 0; start < n; start += BATCH) {
      db.transaction(() => {
        for (let i = start; i < Math.min(n, start + BATCH); i++) {
          const r = row(i);
          const seq = msg.run(`m_seed${i.toString(36)}`, r.from, r.from, r.to, r.text, r.thread, r.sent, r.sent + DAY).lastInsertRowid;
          del.run(seq, r.to, r.to, r.sent, r.sent + 3);
        }
      })();
    }
    // The full-text index as the minute's housekeeping leaves it.
    db.transaction(() => {
      db.prepare('INSERT INTO messages_fts (rowid, content) SELECT seq, content FROM messages WHERE seq > (SELECT indexed_seq FROM fts_progress WHERE id = 1)').run();
      db.prepare('UPDATE fts_progress SET indexed_seq = (SELECT coalesce(max(seq), 0) FROM messages) WHERE id = 1').run();
    })();
    // Seeded with synchronous = OFF: hundreds of MB sit dirty in the OS cache, and the first
    // checkpoint of a measured server would pay for flushing them (dm p99 309 ms at 1 M). A
    // checkpoint with synchronous = NORMAL writes and syncs them here, before anything is timed.
    db.pragma('synchronous = NORMAL');
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.close();
    const fd = openSync(cfg.dbPath, 'r+');
    try { fsyncSync(fd); } finally { closeSync(fd); }
  } else {
    const c = new pg.Client({ connectionString: cfg.databaseUrl });
    await c.connect();
    try {
      await c.query('SET search_path TO cc_dm');
      for (const nm of names) await c.query('INSERT INTO names (key, display, created_at, last_held_at) VALUES ($1, $1, $2, $3) ON CONFLICT DO NOTHING', [nm, now - o.oldestDays * DAY, now - o.newestDays * DAY]);
      const BATCH = 100_000;
      for (let start = 0; start < n; start += BATCH) {
        const rows = Array.from({ length: Math.min(BATCH, n - start) }, (_, k) => row(start + k));
        await c.query(`INSERT INTO messages (id, kind, from_name, from_key, sender_kind, to_name, content, thread_id, sent_at, expires_at)
          SELECT 'm_seed' || r.i, 'dm', r.f, r.f, 'session', r.t, r.x, r.h, r.s, r.s + ${DAY}
          FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[]) AS r(i, f, t, x, h, s) ORDER BY r.i`,
        [rows.map((r) => r.i), rows.map((r) => r.from), rows.map((r) => r.to), rows.map((r) => r.text), rows.map((r) => r.thread), rows.map((r) => r.sent)]);
      }
      await c.query(`INSERT INTO deliveries (message_seq, recipient_key, recipient_name, state, queued_at, delivered_at, delivered_via)
        SELECT seq, to_name, to_name, 'delivered', sent_at, sent_at + 3, 'push' FROM messages WHERE id LIKE 'm_seed%'`);
      // As autovacuum leaves a store in steady state: without it the measured calls set the new
      // rows' hint bits (writes), index-only scans visit the heap, and autovacuum's pass over
      // the million new rows runs during the measurement.
      await c.query('VACUUM (ANALYZE)');
    } finally {
      await c.end();
    }
  }
  o.log(`    seeded ${n} messages in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

// --- measuring helpers ---------------------------------------------------------------------------

function cliEnv(env: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^(CC_DM_|CLAUDE)/.test(k)) out[k] = v;
  return { ...out, ...env };
}

/** Runs the CLI; resolves with its wall time and output. */
function cli(nodeArgs: string[], env: Record<string, string>, args: string[]): Promise<{ ms: number; out: string; code: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const p = spawn(process.execPath, [...nodeArgs, BIN, ...args], { env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { out += d; });
    p.on('close', (code) => resolve({ ms: performance.now() - t0, out, code: code ?? 1 }));
  });
}

/** `cc-dm console --no-open`, then its first page: GET /, /api/history, /api/roster, /api/threads. */
async function consoleFirstPage(env: Record<string, string>): Promise<{ ms: number; start: number }> {
  const t0 = performance.now();
  const p = spawn(process.execPath, [BIN, 'console', '--no-open'], { env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      const t = setTimeout(() => reject(new Error(`console printed no URL: ${out}`)), 30_000);
      p.stdout.on('data', (d) => {
        out += d;
        const m = /(http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]+)/.exec(out.replace(/\x1b\[[0-9;]*m/g, ''));
        if (m) { clearTimeout(t); resolve(m[1]!); }
      });
    });
    const start = performance.now() - t0;
    const u = new URL(url);
    const token = u.searchParams.get('token')!;
    const t1 = performance.now();
    for (const path of ['/', '/api/history', '/api/roster', '/api/threads']) {
      const r = await fetch(`${u.origin}${path}`, { headers: { 'x-cc-dm-token': token } });
      if (!r.ok) throw new Error(`console ${path}: HTTP ${r.status}`);
      await r.text();
    }
    return { ms: performance.now() - t1, start };
  } finally {
    p.kill('SIGTERM');
  }
}

async function rt(p: BenchPeer, tool: string, args: Record<string, unknown>, n: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = await p.call(tool, args);
    if (!r.ok) throw new Error(`${tool}: ${r.error}`);
    times.push(performance.now() - t0);
  }
  return median(times);
}

/** dm latency from a's call to b's push, `samples` dms at 0-`gapMs` ms gaps. */
async function dmLat(a: BenchPeer, b: BenchPeer, samples: number, gapMs: number, tag: string): Promise<{ p50: number; p99: number; errors: number }> {
  const sent = new Map<string, number>();
  let errors = 0;
  for (let i = 0; i < samples; i++) {
    const content = `${tag} ${i}`;
    const t0 = performance.now();
    const r = await send(a, 'dm', { to: b.name, content });
    if (r.ok) sent.set(content, t0); else errors++;
    await sleep(gap(gapMs));
  }
  await b.waitFor((p) => [...sent.keys()].every((c) => p.pushes.some((x) => x.content === c)), 20_000, 'the dms').catch(() => {});
  const at = new Map(b.pushes.map((x) => [x.content, x.at]));
  const lat = [...sent].map(([c, t0]) => (at.get(c) ?? Number.NaN) - t0);
  const lost = lat.filter((x) => Number.isNaN(x)).length;
  const ok = lat.filter((x) => !Number.isNaN(x));
  return { p50: percentile(ok, 50), p99: percentile(ok, 99), errors: errors + lost };
}

/** Server processes serving this database (pids of pg_stat_activity; the server is local). */
async function pgBackends(url: string): Promise<number[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query('SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()');
    return r.rows.map((x: { pid: number }) => x.pid);
  } finally {
    await c.end();
  }
}

/** The store's size: the SQLite file and its WAL, or the PostgreSQL database. */
async function storeBytes(env: Record<string, string>, home: string): Promise<number> {
  if (!env.CC_DM_DATABASE_URL) return dbBytes(home);
  const c = new pg.Client({ connectionString: env.CC_DM_DATABASE_URL });
  await c.connect();
  try {
    return Number((await c.query('SELECT pg_database_size(current_database()) AS n')).rows[0].n);
  } finally {
    await c.end();
  }
}

function dbBytes(home: string): number {
  let n = 0;
  for (const f of ['bus.db', 'bus.db-wal']) { const p = join(home, f); if (existsSync(p)) n += statSync(p).size; }
  return n;
}

// --- the parts -----------------------------------------------------------------------------------

/** A curve's rows by metric, in the order first measured; `put` adds the next point of one. */
function curveRows(): { rows: Map<string, Row>; put: (metric: string, unit: string, v: number) => void } {
  const rows = new Map<string, Row>();
  const put = (metric: string, unit: string, v: number) => {
    const r = rows.get(metric) ?? { metric, unit, values: [] };
    r.values.push(v);
    rows.set(metric, r);
  };
  return { rows, put };
}

async function historyCurve(o: ScaleOptions): Promise<Row[]> {
  const { rows, put } = curveRows();
  const col = selfColumn('scale', 'scale', o.nodeArgs);
  for (const n of o.history) {
    o.log(`  history ${n}`);
    const c = await Cluster.create(o.fixture, col);
    try {
      await seed(c.env, n, { oldestDays: 20, newestDays: 0, log: o.log });
      const starts: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        const p = await c.start(`start-${i}`);
        starts.push(performance.now() - t0);
        await p.close();
      }
      const a = await c.start('lat-a');
      const b = await c.start('lat-b');
      await ready(a, b);
      await dmLat(a, b, 20, 5, 'warm');
      const d = await dmLat(a, b, 200, 20, `h${n}`);
      put('server start (median of 5)', 'ms', median(starts));
      put('dm p50', 'ms', d.p50);
      put('dm p99', 'ms', d.p99);
      put('dm send errors + lost', '', d.errors);
      put('who (tool call, median)', 'ms', await rt(a, 'who', {}, 20));
      put('history, own last 20 (tool call, median)', 'ms', await rt(a, 'history', {}, 20));
      put('history, peer hist-3 (tool call, median)', 'ms', await rt(a, 'history', { peer: 'hist-3' }, 10));
      put(`search "${RARE}" (history tool with query, median)`, 'ms', await rt(a, 'history', { query: RARE }, 10));
      const searches: number[] = [];
      for (let i = 0; i < 3; i++) searches.push((await cli(o.nodeArgs, c.env, ['search', RARE, '--json'])).ms);
      put(`cc-dm search ${RARE} (CLI, wall, median of 3)`, 'ms', median(searches));
      const version: number[] = [];
      for (let i = 0; i < 3; i++) version.push((await cli(o.nodeArgs, c.env, ['--version'])).ms);
      put('  of which Node and CLI start (cc-dm --version)', 'ms', median(version));
      const pages: number[] = [];
      let cstart = 0;
      for (let i = 0; i < 3; i++) { const r = await consoleFirstPage(c.env); pages.push(r.ms); cstart = r.start; }
      put('console first page: /, history, roster, threads (median of 3)', 'ms', median(pages));
      put('console start to URL', 'ms', cstart);
      put('store size (SQLite: bus.db + wal; PostgreSQL: the database)', 'MB', await storeBytes(c.env, c.home) / 1e6);
    } finally {
      await c.close();
    }
  }
  const base = (r: Row) => r.values[0]!;
  return [...rows.values()].map((r) => {
    if (/^(dm p|server start|who|history|console first|cc-dm search|search)/.test(r.metric)) {
      const last = r.values.at(-1)!;
      const within = last <= 1.5 * base(r);
      const searchOk = !/search/.test(r.metric) || r.metric.startsWith('cc-dm') || last <= 50;
      return { ...r, target: r.metric.includes('search "') ? '<= 1.5x empty; <= 50 ms' : '<= 1.5x empty', pass: within && searchOk };
    }
    if (r.metric.includes('errors')) return { ...r, target: '0', pass: r.values.every((x) => x === 0) };
    return r;
  });
}

async function sessionsCurve(o: ScaleOptions): Promise<Row[]> {
  const { rows, put } = curveRows();
  const col = selfColumn('scale', 'scale', o.nodeArgs);
  for (const n of o.sessionCounts) {
    const needMb = n * 90;
    if (freemem() / 1e6 < needMb + 2000) {
      o.log(`  sessions ${n}: skipped, ${Math.round(freemem() / 1e6)} MB free, about ${needMb} MB needed`);
      for (const r of rows.values()) r.values.push(Number.NaN);
      continue;
    }
    o.log(`  sessions ${n}`);
    const c = await Cluster.create(o.fixture, col);
    try {
      const starts: number[] = [];
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        await c.start(`s-${i}`);
        starts.push(performance.now() - t0);
      }
      const [a, b] = c.peers as [BenchPeer, BenchPeer];
      await ready(a, b);
      await sleep(45_000); // start-up work and V8 memory-reducer GCs settle
      const pids = c.peers.map((p) => p.pid!);
      // On PostgreSQL, the doorbell's cost: every session keeps a LISTEN connection (a server
      // backend each), beside its pooled ones. Their CPU and memory are counted apart.
      const backends = o.store === 'postgres' ? await pgBackends(c.env.CC_DM_DATABASE_URL!) : [];
      const cpu0 = pids.reduce((t, p) => t + schedSeconds(p), 0);
      const pg0 = new Map(backends.map((p) => [p, schedSeconds(p)]));
      await sleep(30_000);
      const idle = pids.reduce((t, p) => t + schedSeconds(p), 0) - cpu0;
      if (o.store === 'postgres') {
        put('PostgreSQL backends (connections to the database)', '', backends.length);
        // Only backends alive at both readings (pooled connections come and go).
        put('PostgreSQL backends: idle CPU per 30 s, all', 's', backends.reduce((t, p) => { const now = schedSeconds(p); return t + (now > 0 ? now - pg0.get(p)! : 0); }, 0));
        put('PostgreSQL backends: RSS per session (median backend x backends / sessions)', 'MB', median(backends.map((p) => treeRssMb(p))) * backends.length / n);
      }
      const rss = pids.map((p) => treeRssMb(p));
      await dmLat(a, b, 20, 5, 'warm');
      const d = await dmLat(a, b, 100, 20, `n${n}`);
      // Broadcast from one session to all others: p99 over every recipient.
      const from = c.peers[n - 1]!;
      const recipients = c.peers.slice(0, n - 1);
      const sent = new Map<string, number>();
      for (let i = 0; i < 10; i++) {
        const content = `bc ${n} ${i}`;
        const t0 = performance.now();
        const r = await send(from, 'broadcast', { content });
        if (r.ok) sent.set(content, t0);
        await sleep(100 + gap(100));
      }
      await Promise.all(recipients.map((r) => r.waitFor((p) => [...sent.keys()].every((k) => p.pushes.some((x) => x.content === k)), 30_000, 'broadcasts').catch(() => {})));
      const lat: number[] = [];
      let lost = 0;
      for (const r of recipients) {
        const at = new Map(r.pushes.map((x) => [x.content, x.at]));
        for (const [k, t0] of sent) { const t = at.get(k); if (t === undefined) lost++; else lat.push(t - t0); }
      }
      put('server start (median)', 'ms', median(starts));
      put('dm p50', 'ms', d.p50);
      put('dm p99', 'ms', d.p99);
      put('broadcast to all others, p99 over recipients', 'ms', percentile(lat, 99));
      put('send errors + lost (dm and broadcast)', '', d.errors + lost + (10 - sent.size) * (n - 1));
      put('who (tool call, median)', 'ms', await rt(a, 'who', {}, 10));
      put('idle CPU, all sessions, per 30 s (exact)', 's', idle);
      put('idle CPU per session per 30 s', 'ms', idle / n * 1000);
      put('RSS per session (median)', 'MB', median(rss));
    } finally {
      await c.close();
    }
  }
  return [...rows.values()].map((r) => {
    const first = r.values[0]!;
    const last = r.values.filter((x) => !Number.isNaN(x)).at(-1)!;
    if (r.metric.includes('per session')) return { ...r, target: 'flat (<= 1.5x)', pass: last <= 1.5 * first };
    if (r.metric.includes('errors')) return { ...r, target: '0', pass: r.values.every((x) => x === 0 || Number.isNaN(x)) };
    return r;
  });
}

async function pruneRun(o: ScaleOptions): Promise<Row[]> {
  const col = selfColumn('scale', 'scale', o.nodeArgs);
  const c = await Cluster.create(o.fixture, col);
  try {
    o.log(`  prune: seeding ${o.pruneMessages} messages 40-60 days old`);
    await seed(c.env, o.pruneMessages, { oldestDays: 60, newestDays: 40, log: o.log });
    const pairs: [BenchPeer, BenchPeer][] = [];
    for (let i = 0; i < 3; i++) {
      const a = await c.start(`pr-a${i}`);
      const b = await c.start(`pr-b${i}`);
      await ready(a, b);
      pairs.push([a, b]);
    }
    const before = await storeBytes(c.env, c.home);
    let pruning = true;
    const lat: { during: boolean; ms: number }[] = [];
    let errors = 0;
    let firstError: string | undefined;
    const senders = pairs.map(async ([a, b], k) => {
      let i = 0;
      while (pruning) {
        const content = `prune ${k} ${i++}`;
        const t0 = performance.now();
        const during = pruning;
        const r = await send(a, 'dm', { to: b.name, content });
        if (!r.ok) { errors++; firstError ??= r.error; continue; }
        b.waitFor((p) => p.pushes.some((x) => x.content === content), 120_000, content)
          .then(() => lat.push({ during, ms: b.pushes.find((x) => x.content === content)!.at - t0 }))
          .catch(() => { errors++; });
        await sleep(20 + gap(30));
      }
    });
    await sleep(2_000);
    const t0 = performance.now();
    const r = await cli(o.nodeArgs, c.env, ['prune', '--older-than', '30', '--json']);
    const pruneMs = performance.now() - t0;
    await sleep(2_000);
    pruning = false;
    await Promise.all(senders);
    await sleep(2_000);
    const after = await storeBytes(c.env, c.home);
    let pruned = Number.NaN;
    try { pruned = JSON.parse(r.out.slice(r.out.indexOf('{'))).messages; } catch { /* below */ }
    if (r.code !== 0) o.log(`    prune failed: ${r.out.trim().slice(0, 300)}`);
    const during = lat.map((x) => x.ms);
    return [
      { metric: 'messages pruned', unit: '', values: [pruned], target: `${o.pruneMessages}`, pass: pruned === o.pruneMessages },
      { metric: 'cc-dm prune (wall)', unit: 's', values: [pruneMs / 1000] },
      { metric: 'dms sent meanwhile', unit: '', values: [lat.length] },
      { metric: 'send errors + lost', unit: '', values: [errors], target: '0', pass: errors === 0 },
      { metric: 'dm p50 while pruning', unit: 'ms', values: [percentile(during, 50)] },
      { metric: 'dm p99 while pruning', unit: 'ms', values: [percentile(during, 99)], target: '<= 50 ms', pass: percentile(during, 99) <= 50 },
      { metric: 'dm max while pruning', unit: 'ms', values: [Math.max(...during)] },
      { metric: 'store size before (SQLite: bus.db + wal)', unit: 'MB', values: [before / 1e6] },
      { metric: 'store size after', unit: 'MB', values: [after / 1e6], target: 'smaller', pass: after < before },
      ...(firstError ? [{ metric: `first send error: ${firstError.slice(0, 80)}`, unit: '', values: [1] }] : []),
    ];
  } finally {
    await c.close();
  }
}

// --- printing ------------------------------------------------------------------------------------

function curve(title: string, sizes: string[], rows: Row[]): string {
  const head = ['figure', ...sizes, sizes.length > 1 ? 'last/first' : '', 'target', ''];
  const body = rows.map((r) => {
    const first = r.values[0];
    const last = r.values.filter((x) => !Number.isNaN(x)).at(-1);
    const ratio = sizes.length > 1 && first && last !== undefined && r.unit ? `${(last / first).toFixed(2)}x` : '';
    return [r.metric, ...r.values.map((x) => show(x, r.unit)), sizes.length > 1 ? ratio : '', r.target ?? '', r.pass === undefined ? '' : r.pass ? '✓' : '✗'];
  });
  const all = [head, ...body];
  const w = head.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((x, i) => (i === 0 ? x.padEnd(w[i]!) : x.padStart(w[i]!))).join('  ').trimEnd();
  return [`${title}`, line(head), w.map((n) => '-'.repeat(n)).join('  '), ...body.map(line)].join('\n');
}

export async function scale(o: ScaleOptions): Promise<{ text: string; json: Record<string, unknown>; missed: number }> {
  const out: string[] = [];
  const json: Record<string, unknown> = {};
  let missed = 0;
  const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  if (o.parts.includes('history')) {
    const rows = await historyCurve(o);
    out.push(curve(`history in the store (messages), load average ${load()}`, o.history.map((n) => n.toLocaleString('en')), rows));
    json.history = { sizes: o.history, rows };
    missed += rows.filter((r) => r.pass === false).length;
  }
  if (o.parts.includes('sessions')) {
    const rows = await sessionsCurve(o);
    out.push(curve(`live sessions, load average ${load()}`, o.sessionCounts.map(String), rows));
    json.sessions = { sizes: o.sessionCounts, rows };
    missed += rows.filter((r) => r.pass === false).length;
  }
  if (o.parts.includes('prune')) {
    const rows = await pruneRun(o);
    out.push(curve(`cc-dm prune --older-than 30 of ${o.pruneMessages.toLocaleString('en')} old messages while 3 sessions send to 3 others, load average ${load()}`, ['value'], rows));
    json.prune = { messages: o.pruneMessages, rows };
    missed += rows.filter((r) => r.pass === false).length;
  }
  return { text: out.join('\n\n'), json, missed };
}
