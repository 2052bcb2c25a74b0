/**
 * A test world: a fresh store (SQLite or PostgreSQL), real channel servers started over stdio
 * as Claude Code starts them, and the real CLI. Everything is torn down after the test.
 */
import { spawn, spawnSync } from 'node:child_process';
import { Peer, BIN, cleanEnv, type PeerOptions } from '../../src/channel/peer.js';
import type { StoreFixture } from './stores.js';

export interface CliResult { code: number; stdout: string; stderr: string; json?: any }

export class World {
  readonly peers: Peer[] = [];
  private constructor(readonly kind: StoreFixture['kind'], readonly home: string, readonly env: Record<string, string>, private readonly cleanup: () => Promise<void>) {}

  static async create(fx: StoreFixture): Promise<World> {
    const f = await fx.fresh();
    return new World(fx.kind, f.home, f.env, f.cleanup);
  }

  /** Starts a channel server under `name` (undefined: no CC_DM_SESSION_NAME). */
  async start(name: string | undefined, opts: Omit<PeerOptions, 'home' | 'name'> = {}): Promise<Peer> {
    const p = await Peer.start({ ...opts, home: this.home, name, env: { ...this.env, ...opts.env } });
    this.peers.push(p);
    return p;
  }

  /** Runs the CLI synchronously; parses stdout as JSON when it is. */
  cli(args: string[], env: Record<string, string | undefined> = {}): CliResult {
    const full = { ...cleanEnv(), ...this.env, ...env } as Record<string, string>;
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete full[k];
    const r = spawnSync(process.execPath, [BIN, ...args], { env: full, encoding: 'utf8', timeout: 60_000, maxBuffer: 256 * 1024 * 1024 });
    let json;
    try { json = JSON.parse(r.stdout); } catch { /* not JSON */ }
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, json };
  }

  /** Runs the CLI without waiting (for long-running commands). */
  cliAsync(args: string[], env: Record<string, string> = {}) {
    return spawn(process.execPath, [BIN, ...args], { env: { ...cleanEnv(), ...this.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  }

  async close(): Promise<void> {
    await Promise.all(this.peers.map((p) => p.close()));
    await this.cleanup();
  }
}

export function exited(pid: number): boolean {
  try { process.kill(pid, 0); return false; } catch { return true; }
}
