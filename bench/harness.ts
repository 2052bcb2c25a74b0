/**
 * The benchmark's world: a fresh store per scenario and real channel servers started over stdio
 * exactly as Claude Code starts them, with the node flags of the plugin's launch command, in one
 * of two modes: the wake path on (defaults), or off (poll only).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Peer } from '../src/channel/peer.js';
import { stores, type StoreFixture } from '../test/support/stores.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface Mode {
  name: 'wake' | 'poll-only';
  env: Record<string, string>;
}

export function modes(which: string, pollOnlyMs: number): Mode[] {
  const all: Mode[] = [
    { name: 'wake', env: {} },
    // The wake path off: the recipient finds mail only by its poll, at the period given.
    { name: 'poll-only', env: { CC_DM_WAKE: '0', CC_DM_POLL_MS: String(pollOnlyMs) } },
  ];
  return which === 'both' ? all : all.filter((m) => m.name === which || (which === 'poll' && m.name === 'poll-only'));
}

/** The node flags of the shipped launch command (.claude-plugin/plugin.json), before the script. */
export function pluginNodeArgs(): string[] {
  try {
    const manifest = JSON.parse(readFileSync(join(ROOT, '.claude-plugin', 'plugin.json'), 'utf8'));
    const args: string[] = manifest.mcpServers?.['cc-dm']?.args ?? [];
    const script = args.findIndex((a) => a.endsWith('cc-dm.js'));
    return script > 0 ? args.slice(0, script) : [];
  } catch {
    return [];
  }
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

/** Real servers sharing one fresh store. */
export class Cluster {
  readonly peers: Peer[] = [];
  private constructor(readonly home: string, readonly env: Record<string, string>, private readonly nodeArgs: string[], private readonly cleanup: () => Promise<void>) {}

  static async create(fx: StoreFixture, mode: Mode, nodeArgs: string[]): Promise<Cluster> {
    const f = await fx.fresh();
    return new Cluster(f.home, { ...f.env, ...mode.env }, nodeArgs, f.cleanup);
  }

  /** Start failures (each retried once), with what the server's log said: reported, never hidden. */
  readonly startFailures: string[] = [];

  async start(name: string, env: Record<string, string> = {}): Promise<Peer> {
    const log = join(this.home, `${name}.log`);
    for (let attempt = 1; ; attempt++) {
      try {
        const p = await Peer.start({ home: this.home, name, env: { CC_DM_LOG_FILE: log, ...this.env, ...env }, nodeArgs: this.nodeArgs });
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

/** The dm's message id, or an error text. */
export async function send(p: Peer, tool: 'dm' | 'broadcast', args: Record<string, unknown>): Promise<{ id?: string; error?: string; body?: any }> {
  try {
    const r = await p.call(tool, args);
    if (r.isError) return { error: String(r.body.error ?? 'isError'), body: r.body };
    return { id: r.body.message_id, body: r.body };
  } catch (e) {
    return { error: (e as Error).message };
  }
}
