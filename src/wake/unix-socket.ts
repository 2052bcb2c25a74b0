/**
 * The SQLite store's doorbell: one Unix socket per session in a short private folder. A ring is
 * a bare connect; the recipient reads its mailbox when a connection arrives. No port is opened,
 * and the folder is 0700, so nobody but this user can ring.
 *
 * Socket paths are limited to 108 bytes, so the folder is under /tmp whatever $CC_DM_HOME is,
 * named by a hash of the home so that two homes never share doorbells.
 */
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CcDmError } from '../errors.js';
import type { Doorbell } from './doorbell.js';

export function doorbellDir(home: string): string {
  const base = existsSync('/tmp') ? '/tmp' : tmpdir();
  const uid = process.getuid?.() ?? 0;
  return join(base, `cc-dm-${uid}`, createHash('sha256').update(home).digest('hex').slice(0, 12));
}

function ensurePrivateDir(dir: string): void {
  const parent = join(dir, '..');
  for (const d of [parent, dir]) {
    mkdirSync(d, { recursive: true, mode: 0o700 });
    const st = lstatSync(d);
    if (!st.isDirectory() || st.isSymbolicLink() || (process.getuid && st.uid !== process.getuid())) {
      throw new CcDmError('E_FORBIDDEN', `the doorbell folder ${d} is not a private folder of this user; remove it and start again.`);
    }
    if ((st.mode & 0o077) !== 0) chmodSync(d, 0o700);
  }
}

export class UnixSocketDoorbell implements Doorbell {
  private server?: Server;
  private path?: string;

  constructor(private readonly dir: string) {}

  addressFor(sessionId: string): string {
    return join(this.dir, `${sessionId.slice(0, 16)}.sock`);
  }

  async listen(sessionId: string, _nameKeyOf: () => string | null, onRing: () => void): Promise<void> {
    ensurePrivateDir(this.dir);
    const path = this.addressFor(sessionId);
    if (existsSync(path)) unlinkSync(path); // ours by construction: the id is fresh
    const server = createServer((sock) => {
      sock.on('error', () => {});
      sock.destroy();
      onRing();
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => { server.off('error', reject); resolve(); });
    });
    server.on('error', () => {});
    server.unref(); // a doorbell never keeps the process alive on its own
    chmodSync(path, 0o600);
    this.server = server;
    this.path = path;
  }

  ring(sessions: readonly { doorbell: string | null }[]): void {
    for (const s of sessions) {
      if (!s.doorbell || !s.doorbell.startsWith(this.dir)) continue;
      const c = connect(s.doorbell);
      // A missing or refused socket is a lost ring: the recipient's fallback poll delivers.
      c.on('error', () => {});
      c.on('connect', () => c.destroy());
    }
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((r) => server.close(() => r()));
    if (this.path && existsSync(this.path)) {
      try { unlinkSync(this.path); } catch { /* already gone */ }
    }
  }

  /**
   * Removes socket files whose session is not open any more (left by killed processes). Files
   * younger than a few seconds are spared: their session may be committing its row right now.
   */
  static cleanStale(dir: string, openDoorbells: ReadonlySet<string>, now = Date.now()): string[] {
    if (!existsSync(dir)) return [];
    const removed: string[] = [];
    for (const f of readdirSync(dir)) {
      const p = join(dir, f);
      if (!f.endsWith('.sock') || openDoorbells.has(p)) continue;
      try { if (now - lstatSync(p).mtimeMs < 10_000) continue; } catch { continue; }
      try { unlinkSync(p); removed.push(p); } catch { /* raced with its owner */ }
    }
    return removed;
  }
}
