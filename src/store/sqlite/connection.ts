/**
 * The SQLite file and its connection: created private (0600 under a 0700 folder), opened in WAL
 * mode, and every statement run through a busy retry that never freezes the event loop.
 *
 * better-sqlite3 is synchronous, so a long busy_timeout would freeze the event loop (no pushes,
 * no notice of a closed stdin). SQLite does not wait at all here; a busy lock is tried again
 * after short synchronous pauses, and past those with asynchronous backoff, up to `busyLimitMs`;
 * past that the caller gets E_STORE_BUSY and nothing is half-written (every write is one
 * transaction).
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { CcDmError } from '../../errors.js';
import { IdleCheckpoint } from './checkpoint.js';

export type DB = Database.Database;

/**
 * Waiting for a write lock. A write transaction holds it for about 100 µs, but SQLite's own busy
 * handler sleeps in steps of 1, 2, 5, 10 ms: when 15 recipients of a broadcast mark their
 * deliveries at once, those steps made the slowest wait tens of ms (2,300 such sleeps for 900
 * deliveries). So a busy lock is tried again after short synchronous pauses (5.6 ms in all).
 */
const SPIN_WAITS_MS = [0.05, 0.1, 0.1, 0.2, 0.2, 0.5, 0.5, 1, 1, 2];
const PAUSE = new Int32Array(new SharedArrayBuffer(4));

/**
 * Creates the home folder (0700) and its missing parents one level at a time: Node's recursive
 * mkdir loops forever under /proc, and a clear error beats a hang.
 */
function makePrivateDir(dir: string): void {
  if (existsSync(dir)) return;
  const parent = dirname(dir);
  if (parent !== dir) makePrivateDir(parent);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw new CcDmError(
      'E_CONFIG',
      `cannot create the cc-dm folder ${dir} (${(e as Error).message}); set CC_DM_HOME to a folder you can write.`,
    );
  }
}

function sqliteCode(e: unknown): string {
  return (e as { code?: string } | undefined)?.code ?? '';
}

function isBusy(e: unknown): boolean {
  const code = sqliteCode(e);
  return code === 'SQLITE_BUSY' || code.startsWith('SQLITE_BUSY_') || code === 'SQLITE_LOCKED';
}

export function isCorrupt(e: unknown): boolean {
  const code = sqliteCode(e);
  return code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT' || code.startsWith('SQLITE_CORRUPT_');
}

export function corruptError(path: string, e: unknown): CcDmError {
  return new CcDmError(
    'E_STORE_CORRUPT',
    `${path} is not a readable cc-dm database (${(e as Error).message}). cc-dm will not overwrite it: move it aside (or restore a backup) and start again.`,
  );
}

/**
 * A row limit written into the statement's text, never bound: SQLite plans with a LIMIT's value,
 * so binding one marks the statement for preparing again at every run. A drain's read of
 * waiting mail took 33 µs that way and 2.6 µs with the limit in its text (better-sqlite3, SQLite
 * 3.53). Each distinct limit is one cached statement.
 */
export function sqlLimit(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new CcDmError('E_INTERNAL', `a row limit must be a whole number, not ${n}`);
  return String(n);
}

export class SqliteConnection {
  /**
   * Statements are prepared once and reused: preparing one costs tens of microseconds, more than
   * most of these queries take to run, and a dm runs about six.
   */
  private readonly stmts = new Map<string, Database.Statement>();
  /** Checkpoints between writes, not inside them (checkpoint.ts); set once the file is in WAL mode. */
  checkpoints?: IdleCheckpoint;
  private tx?: { begin: Database.Statement; commit: Database.Statement; rollback: Database.Statement };

  private constructor(
    readonly db: DB,
    readonly path: string,
    private readonly busyLimitMs: number,
  ) {}

  /** Opens (creating the file 0600 under a 0700 folder) and switches to WAL, failing clearly on a foreign file. */
  static async open(path: string, busyLimitMs: number): Promise<SqliteConnection> {
    makePrivateDir(dirname(path));
    if (!existsSync(path)) closeSync(openSync(path, 'a', 0o600));
    else if (statSync(path).isDirectory()) {
      throw new CcDmError(
        'E_STORE_CORRUPT',
        `${path} is a directory, not a database file. Move it away; cc-dm will create a new store there.`,
      );
    }
    let db: DB;
    try {
      db = new Database(path, { timeout: 0 });
    } catch (e) {
      throw new CcDmError(
        'E_STORE_CORRUPT',
        `cannot open the cc-dm database ${path}: ${(e as Error).message}. Check its permissions; cc-dm never overwrites it.`,
      );
    }
    const conn = new SqliteConnection(db, path, busyLimitMs);
    try {
      await conn.retry(() => {
        // Reading the header first: a corrupt or foreign file fails here, before anything writes.
        const { tables } = db.prepare('SELECT count(*) AS tables FROM sqlite_master').get() as { tables: number };
        // A new database gives the pages of pruned history back to the file system (prune runs
        // incremental_vacuum): auto_vacuum can only be chosen before the first table exists.
        if (tables === 0) db.pragma('auto_vacuum = INCREMENTAL');
        if (db.pragma('journal_mode', { simple: true }) !== 'wal') db.pragma('journal_mode = WAL');
      });
      // WAL with synchronous = NORMAL: a process crash loses nothing committed.
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      conn.checkpoints = new IdleCheckpoint(db);
    } catch (e) {
      db.close();
      throw e;
    }
    return conn;
  }

  /** The WAL's side files get the database file's privacy too. */
  restrictSideFiles(): void {
    for (const suffix of ['-wal', '-shm']) {
      if (existsSync(this.path + suffix)) chmodSync(this.path + suffix, 0o600);
    }
  }

  sql(text: string): Database.Statement {
    let s = this.stmts.get(text);
    if (!s) {
      if (this.stmts.size >= 256) this.stmts.clear(); // built queries (history filters) stay bounded
      s = this.db.prepare(text);
      this.stmts.set(text, s);
    }
    return s;
  }

  /** Runs fn, retrying asynchronously while the database is busy, up to the stated limit. */
  async retry<T>(fn: () => T): Promise<T> {
    const deadline = Date.now() + this.busyLimitMs;
    let wait = 2;
    for (let spin = 0; ; spin++) {
      try {
        return fn();
      } catch (e) {
        // Damage found after open is reported as such, never as an internal error.
        if (isCorrupt(e)) throw corruptError(this.path, e);
        if (!isBusy(e)) throw e;
        if (spin < SPIN_WAITS_MS.length) {
          Atomics.wait(PAUSE, 0, 0, SPIN_WAITS_MS[spin]!);
          continue;
        }
        if (Date.now() >= deadline) {
          throw new CcDmError(
            'E_STORE_BUSY',
            `the cc-dm database stayed locked for more than ${Math.round(this.busyLimitMs / 1000)} s (another process holds a write lock on ${this.path}); nothing was written. Try again, or find the process holding it (cc-dm doctor).`,
          );
        }
        await sleep(wait + Math.random() * wait);
        wait = Math.min(wait * 2, 100);
      }
    }
  }

  /** A write transaction taking the lock up front (BEGIN IMMEDIATE), so it never deadlocks on upgrade. */
  async write<T>(fn: () => T): Promise<T> {
    const result = await this.retry(() => this.immediate(fn));
    this.checkpoints?.wrote();
    return result;
  }

  /**
   * BEGIN IMMEDIATE, fn, COMMIT, through statements prepared once (better-sqlite3's
   * db.transaction(fn) builds its wrappers anew for each new fn: 23 µs per write against 15).
   * Whatever fails rolls the whole transaction back, so a retry starts clean.
   */
  private immediate<T>(fn: () => T): T {
    const tx = (this.tx ??= {
      begin: this.db.prepare('BEGIN IMMEDIATE'),
      commit: this.db.prepare('COMMIT'),
      rollback: this.db.prepare('ROLLBACK'),
    });
    tx.begin.run();
    try {
      const result = fn();
      tx.commit.run();
      return result;
    } catch (e) {
      if (this.db.inTransaction) tx.rollback.run();
      throw e;
    }
  }

  read<T>(fn: () => T): Promise<T> {
    return this.retry(fn);
  }

  close(): void {
    this.checkpoints?.close();
    if (this.db.open) this.db.close();
  }
}
