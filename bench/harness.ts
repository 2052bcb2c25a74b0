/**
 * The benchmark's world: a fresh home (and store) per scenario and real servers started over
 * stdio, as Claude Code starts them. A column of the table is one way of running a server:
 * this repository's cc-dm with the node flags of the plugin's launch command, with its wake path
 * on (the defaults) or off (poll only), or any other MCP server given by its command line
 * (`--compare`). Every server gets its own temporary home: HOME and CC_DM_HOME both point at it,
 * so a server that keeps its database under ~ (cc-dm 1.3.1: ~/.cc-dm/bus.db) gets a fresh one too.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BenchPeer } from './client.js';
import { stores, type StoreFixture } from '../test/support/stores.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The cc-dm started: this tree's, or another build's (CC_DM_BENCH_ROOT=<folder with bin/ and dist/>, to set two builds side by side). */
export const BIN = join(process.env.CC_DM_BENCH_ROOT ?? ROOT, 'bin', 'cc-dm.js');

/** One column of the table: how its servers are started. */
export interface Column {
  key: string;
  label: string;
  argv: readonly string[];
  env: Record<string, string>;
  /** This repository's cc-dm (scenarios that read its store, or need its delivery semantics, run only here). */
  self: boolean;
}

/** cc-dm as the plugin starts it: node, the plugin's flags (or those given), bin/cc-dm.js serve. */
export function selfColumn(key: string, label: string, nodeArgs: readonly string[], env: Record<string, string> = {}): Column {
  return { key, label, argv: [process.execPath, ...nodeArgs, BIN, 'serve'], env, self: true };
}

export function selfModes(which: string, pollOnlyMs: number, nodeArgs: readonly string[]): Column[] {
  const all = [
    selfColumn('wake', 'wake', nodeArgs),
    // The wake path off: the recipient finds mail only by its poll, at the period given.
    selfColumn('poll-only', 'poll-only', nodeArgs, { CC_DM_WAKE: '0', CC_DM_POLL_MS: String(pollOnlyMs) }),
  ];
  return which === 'both' ? all : all.filter((m) => m.key === which || (which === 'poll' && m.key === 'poll-only'));
}

/** The store to run on: SQLite in a temp home, or a fresh database on a PostgreSQL server. */
export async function storeFixture(kind: 'sqlite' | 'postgres'): Promise<{ fixture: StoreFixture; stop(): Promise<void> }> {
  if (kind === 'sqlite') return { fixture: stores().find((s) => s.kind === 'sqlite')!, stop: async () => {} };
  let stop = async () => {};
  if (!process.env.CC_DM_TEST_PG_URL) {
    if (process.env.CC_DM_DATABASE_URL) process.env.CC_DM_TEST_PG_URL = process.env.CC_DM_DATABASE_URL;
    else {
      const pgModule = join(ROOT, 'scripts', 'pg.mjs');
      const { startPostgres } = await import(pgModule);
      const pg = await startPostgres();
      process.env.CC_DM_TEST_PG_URL = pg.url;
      stop = () => pg.stop();
    }
  }
  const fixture = stores().find((s) => s.kind === 'postgres');
  if (!fixture) throw new Error('no PostgreSQL fixture');
  return { fixture, stop };
}

/** Real servers of one column sharing one fresh home. */
export class Cluster {
  readonly peers: BenchPeer[] = [];
  private constructor(readonly column: Column, readonly home: string, readonly env: Record<string, string>, private readonly cleanup: () => Promise<void>) {}

  get self(): boolean { return this.column.self; }

  static async create(fx: StoreFixture, column: Column): Promise<Cluster> {
    if (column.self) {
      const f = await fx.fresh();
      return new Cluster(column, f.home, { ...f.env, HOME: f.home, CC_DM_HOME: f.home, ...column.env }, f.cleanup);
    }
    const home = mkdtempSync(join(tmpdir(), 'ccdm-cmp-'));
    return new Cluster(column, home, { HOME: home, CC_DM_HOME: home, ...column.env }, async () => rmSync(home, { recursive: true, force: true }));
  }

  /** Start failures (each retried once), with what the server said: reported, never hidden. */
  readonly startFailures: string[] = [];

  async start(name: string, env: Record<string, string> = {}): Promise<BenchPeer> {
    const log = join(this.home, `${name}.log`);
    const own: Record<string, string> = this.self ? { CC_DM_LOG_FILE: log } : {};
    for (let attempt = 1; ; attempt++) {
      let p: BenchPeer | undefined;
      try {
        p = await BenchPeer.start(name, { argv: this.column.argv, env: { ...own, ...this.env, CC_DM_SESSION_NAME: name, CC_DM_SESSION_ROLE: 'worker', ...env } });
        this.peers.push(p);
        return p;
      } catch (e) {
        let tail = '';
        try { tail = readFileSync(log, 'utf8').trim().split('\n').slice(-2).join(' / '); } catch { /* no log */ }
        const what = `server "${name}" did not start: ${(e as Error).message}${tail ? ` (its log: ${tail})` : ''}`;
        this.startFailures.push(what);
        if (attempt === 2) throw new Error(what);
      }
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.peers.map((p) => p.close()));
    await this.cleanup();
  }
}

/** Waits until the process is gone and reaped (a zombie still answers kill 0). */
export async function gone(pid: number, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try { process.kill(pid, 0); } catch { return; }
    if (Date.now() > deadline) throw new Error(`process ${pid} still there after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A send: ok, its body, or the error text. */
export async function send(p: BenchPeer, tool: 'dm' | 'broadcast', args: Record<string, unknown>): Promise<{ ok: boolean; id?: string; error?: string; body?: any }> {
  const r = await p.call(tool, args);
  return { ok: r.ok, id: r.body?.message_id, error: r.error, body: r.body };
}

/**
 * Waits until a first dm from `from` reaches `to`: a server may push only some time after its
 * handshake (cc-dm 1.3.1 starts polling a second after start), which is not what is measured.
 */
export async function ready(from: BenchPeer, to: BenchPeer, ms = 10_000): Promise<void> {
  const content = `ready ${from.name} -> ${to.name} ${Math.random().toString(36).slice(2)}`;
  const r = await send(from, 'dm', { to: to.name, content });
  if (!r.ok) throw new Error(`the first dm from ${from.name} to ${to.name} failed: ${r.error}`);
  await to.waitFor((p) => p.pushes.some((x) => x.content === content), ms, `the first dm to ${to.name}`);
}
