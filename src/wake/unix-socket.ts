/**
 * The SQLite store's doorbell: one Unix socket per session in a short private folder. A ring is
 * one byte on a connection kept open to the recipient (made at the first ring, made again when it
 * breaks); the recipient reads its mailbox when a connection or a byte arrives. Keeping the
 * connection saves a connect and an accept per message: at 2,000 back-to-back dms the sender
 * spent about 145 µs per ring in connect(). No port is opened, and the folder is 0700, so nobody
 * but this user can ring.
 *
 * Socket paths are limited to 108 bytes, so the folder is under /tmp whatever $CC_DM_HOME is,
 * named by a hash of the home so that two homes never share doorbells.
 */
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Doorbell, RingTarget } from './doorbell.js';

const RING = Buffer.from([0x21]);

/** The usual doorbell folder: short, under /tmp, named by the user and a hash of the home. */
export function doorbellDir(home: string): string {
  const base = existsSync('/tmp') ? '/tmp' : tmpdir();
  const uid = process.getuid?.() ?? 0;
  return join(base, `cc-dm-${uid}`, createHash('sha256').update(home).digest('hex').slice(0, 12));
}

/** The longest socket path: sun_path is 108 bytes with its NUL. */
const SUN_PATH_MAX = 107;
const SOCKET_NAME_LEN = '0123456789abcdef.sock'.length;

/**
 * Where a doorbell may be, in order: the usual folder under /tmp, then a folder inside the home
 * itself (0700 by construction) when its path is short enough. Every process of this user and
 * home computes the same list, and rings only sockets inside it (never a path a row names
 * elsewhere).
 */
export function doorbellDirs(home: string): string[] {
  return [doorbellDir(home), join(home, 'doorbells')].filter((d) => Buffer.byteLength(d) + 1 + SOCKET_NAME_LEN <= SUN_PATH_MAX);
}

/** Why a folder is not (or cannot be made) a private folder of this user; undefined when it is one. */
function privateDirProblem(d: string, create: boolean): string | undefined {
  try {
    if (create) mkdirSync(d, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') return `cannot be created (${(e as Error).message})`;
  }
  let st;
  try {
    st = lstatSync(d);
  } catch (e) {
    return `cannot be read (${(e as Error).message})`;
  }
  if (st.isSymbolicLink()) return 'is a symbolic link';
  if (!st.isDirectory()) return 'is not a folder';
  if (process.getuid && st.uid !== process.getuid()) return `belongs to another user (uid ${st.uid})`;
  if ((st.mode & 0o077) !== 0) {
    try {
      chmodSync(d, 0o700);
    } catch (e) {
      return `is open to others and cannot be made private (${(e as Error).message})`;
    }
  }
  return undefined;
}

/** A folder and its parent, each made (or found) private to this user, never followed through a link. */
function ensurePrivateDir(dir: string): string | undefined {
  for (const d of [join(dir, '..'), dir]) {
    const problem = privateDirProblem(d, true);
    if (problem) return `${d} ${problem}`;
  }
  return undefined;
}

export interface DoorbellPlace {
  /** The folder in use; undefined: none could be used, and sessions run on the fallback poll. */
  dir?: string;
  /** Folders passed over, and why (for doctor and the log). */
  refused: string[];
}

/**
 * Picks the first candidate folder that is (or can be made) private to this user. A folder
 * planted by someone else is passed over, never used and never a reason to stop: with none left,
 * the session runs on its fallback poll.
 */
export function pickDoorbellDir(home: string): DoorbellPlace {
  const refused: string[] = [];
  for (const d of doorbellDirs(home)) {
    const problem = ensurePrivateDir(d);
    if (!problem) return { dir: d, refused };
    refused.push(problem);
  }
  return { refused };
}

export class UnixSocketDoorbell implements Doorbell {
  private server?: Server;
  private path?: string;
  private place?: DoorbellPlace;
  /** Every folder a doorbell of this home may be in: rings go only there. */
  private readonly dirs: string[];
  /** Connections this session accepted (closed when it stops, or the server would wait for them). */
  private readonly accepted = new Set<Socket>();
  /** Connections to other sessions' doorbells, by address. */
  private readonly links = new Map<string, Socket>();
  /** Doorbells to ring at the end of this turn of the event loop. */
  private readonly due = new Set<string>();

  constructor(
    private readonly home: string,
    private readonly onWarning: (message: string) => void = () => {},
  ) {
    this.dirs = doorbellDirs(home);
  }

  /** The folder this process uses (picked once, made private on the way). */
  where(): DoorbellPlace {
    if (!this.place) {
      this.place = pickDoorbellDir(this.home);
      if (this.place.refused.length) {
        this.onWarning(
          `doorbell folder refused: ${this.place.refused.join('; ')}. ${this.place.dir ? `Using ${this.place.dir} instead.` : 'No private folder left: this session runs on the fallback poll (CC_DM_POLL_MS).'}`,
        );
      }
    }
    return this.place;
  }

  addressFor(sessionId: string): string | null {
    const dir = this.where().dir;
    return dir ? join(dir, `${sessionId.slice(0, 16)}.sock`) : null;
  }

  async listen(sessionId: string, _nameKeyOf: () => string | null, onRing: () => void): Promise<void> {
    const path = this.addressFor(sessionId);
    if (!path) return; // no private folder: the poll delivers
    if (existsSync(path)) unlinkSync(path); // ours by construction: the id is fresh
    const server = createServer((sock) => {
      this.accepted.add(sock);
      sock.unref();
      sock.on('error', () => {});
      sock.on('data', () => onRing());
      sock.on('end', () => sock.destroy());
      sock.on('close', () => this.accepted.delete(sock));
      onRing(); // a connection is a ring too (and the whole ring of a sender that connects and closes)
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', () => {});
    server.unref(); // a doorbell never keeps the process alive on its own
    chmodSync(path, 0o600);
    this.server = server;
    this.path = path;
  }

  /**
   * Rings are sent after the current turn of the event loop (setImmediate): the sends committed
   * in one turn (pipelined calls) ring each recipient once, one write instead of one per message,
   * and the answers of that turn leave first. Ringing first woke the recipient's process before
   * the sender had answered, and on two cores it often took the CPU: one call at a time, the
   * round trip p50 was 0.56-0.59 ms ringing first and 0.42-0.50 ms answering first (3 rounds
   * each, interleaved, load 3.7).
   */
  ring(sessions: readonly RingTarget[]): void {
    const first = this.due.size === 0;
    for (const s of sessions) if (s.doorbell && this.dirs.some((d) => s.doorbell!.startsWith(d + '/'))) this.due.add(s.doorbell);
    if (first && this.due.size > 0) setImmediate(() => this.flush());
  }

  private flush(): void {
    for (const path of this.due) {
      let link = this.links.get(path);
      if (!link || link.destroyed) link = this.link(path);
      // A byte still waiting to leave (connecting, or a stopped recipient's buffer is full) will
      // ring after this commit anyway: no need to queue more, however long the recipient sleeps.
      if (link.writableLength === 0) link.write(RING);
    }
    this.due.clear();
  }

  /** Opens a connection to a doorbell. A missing, refused or broken one is a lost ring: the poll delivers. */
  private link(path: string): Socket {
    const c = connect(path);
    c.unref(); // a ring never keeps the process alive
    const drop = () => {
      if (this.links.get(path) === c) this.links.delete(path);
      c.destroy();
    };
    c.on('error', drop);
    c.on('end', drop);
    c.on('close', drop);
    this.links.set(path, c);
    return c;
  }

  /** A ring reaches only its recipient: nothing here tells an idle poll that others committed. */
  changes(): undefined {
    return undefined;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const c of this.links.values()) c.destroy();
    this.links.clear();
    for (const c of this.accepted) c.destroy();
    this.accepted.clear();
    if (server) await new Promise<void>((r) => server.close(() => r()));
    if (this.path && existsSync(this.path)) {
      try {
        unlinkSync(this.path);
      } catch {
        /* already gone */
      }
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
      try {
        if (now - lstatSync(p).mtimeMs < 10_000) continue;
      } catch {
        continue;
      }
      try {
        unlinkSync(p);
        removed.push(p);
      } catch {
        /* raced with its owner */
      }
    }
    return removed;
  }
}
