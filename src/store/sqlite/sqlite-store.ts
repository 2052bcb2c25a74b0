/**
 * The embedded store: one SQLite file in WAL mode shared by every server on the machine.
 *
 * better-sqlite3 is synchronous, so a long busy_timeout would freeze the event loop (no pushes,
 * no notice of a closed stdin). The busy timeout is kept short and a busy write is retried
 * asynchronously with backoff, up to `busyLimitMs`; past that the caller gets E_STORE_BUSY and
 * nothing is half-written (every write is one transaction).
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { CcDmError } from '../../errors.js';
import { nameKey } from '../../bus/names.js';
import { ftsQuery } from '../fts.js';
import { SQLITE_MIGRATIONS } from './migrations.js';
import type {
  Behavior, ClaimDecider, ClaimRequest, ClaimResult, DeliveryRow, HistoryFilter, MessageRow, NameRow, NewMail,
  NewPermission, PendingDelivery, PermissionRow, SenderKind, SessionPatch, SessionRow, Store, Trace,
} from '../types.js';
import { bySeq, splitRow } from '../rows.js';

type DB = Database.Database;

export interface SqliteOptions {
  path: string;
  busyLimitMs: number;
}

/**
 * Waiting for a write lock. A write transaction holds it for about 100 µs, but SQLite's own busy
 * handler sleeps in steps of 1, 2, 5, 10 ms: when 15 recipients of a broadcast mark their
 * deliveries at once, those steps made the slowest wait tens of ms (2,300 such sleeps for 900
 * deliveries). So SQLite does not wait at all; a busy lock is tried again after short synchronous
 * pauses (5.6 ms in all), and past those with asynchronous backoff, so that a lock held for long
 * never freezes the event loop.
 */
const BUSY_TIMEOUT_MS = 0;
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
    throw new CcDmError('E_CONFIG', `cannot create the cc-dm folder ${dir} (${(e as Error).message}); set CC_DM_HOME to a folder you can write.`);
  }
}

function isBusy(e: unknown): boolean {
  const code = (e as { code?: string })?.code ?? '';
  return code === 'SQLITE_BUSY' || code.startsWith('SQLITE_BUSY_') || code === 'SQLITE_LOCKED';
}

function corrupt(e: unknown): boolean {
  const code = (e as { code?: string })?.code ?? '';
  return code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT' || code.startsWith('SQLITE_CORRUPT_');
}

const sessionFromRow = (r: any): SessionRow => ({ ...r, can_push: r.can_push === 1 });
const nameFromRow = (r: any): NameRow => ({ ...r, reserved: r.reserved === 1 });

const MSG_COLS = `m.seq, m.id, m.kind, m.from_name, m.from_key, m.from_session, m.sender_kind, m.to_name, m.project,
  m.content, m.priority, m.message_type, m.thread_id, m.sent_at, m.expires_at`;
const DEL_COLS = `d.message_seq, d.recipient_key, d.recipient_name, d.state, d.queued_at, d.delivered_at, d.delivered_via,
  d.delivered_session, d.replied_at, d.expired_at, d.expire_reason`;

export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  readonly capabilities = { notify: false, multiHost: false };
  readonly where: string;
  private readonly db: DB;
  private readonly busyLimitMs: number;

  private constructor(db: DB, opts: SqliteOptions) {
    this.db = db;
    this.where = opts.path;
    this.busyLimitMs = opts.busyLimitMs;
  }

  /** Opens (creating 0600 under a 0700 folder), checks the file is a database, and migrates. */
  static async open(opts: SqliteOptions): Promise<SqliteStore> {
    const dir = dirname(opts.path);
    makePrivateDir(dir);
    if (!existsSync(opts.path)) closeSync(openSync(opts.path, 'a', 0o600));
    else if (statSync(opts.path).isDirectory()) {
      throw new CcDmError('E_STORE_CORRUPT', `${opts.path} is a directory, not a database file. Move it away; cc-dm will create a new store there.`);
    }
    let db: DB;
    try {
      db = new Database(opts.path, { timeout: BUSY_TIMEOUT_MS });
    } catch (e) {
      throw new CcDmError('E_STORE_CORRUPT', `cannot open the cc-dm database ${opts.path}: ${(e as Error).message}. Check its permissions; cc-dm never overwrites it.`);
    }
    const store = new SqliteStore(db, opts);
    try {
      await store.retry(() => {
        // Reading the header first: a corrupt or foreign file fails here, before anything writes.
        db.prepare('SELECT count(*) FROM sqlite_master').get();
        if (db.pragma('journal_mode', { simple: true }) !== 'wal') db.pragma('journal_mode = WAL');
      });
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      await store.migrate();
      for (const suffix of ['-wal', '-shm']) {
        if (existsSync(opts.path + suffix)) chmodSync(opts.path + suffix, 0o600);
      }
    } catch (e) {
      db.close();
      if (corrupt(e)) {
        throw new CcDmError('E_STORE_CORRUPT', `${opts.path} is not a readable cc-dm database (${(e as Error).message}). cc-dm will not overwrite it: move it aside (or restore a backup) and start again.`);
      }
      throw e;
    }
    return store;
  }

  /** Runs fn, retrying asynchronously while the database is busy, up to the stated limit. */
  private async retry<T>(fn: () => T): Promise<T> {
    const deadline = Date.now() + this.busyLimitMs;
    let wait = 2;
    for (let spin = 0; ; spin++) {
      try {
        return fn();
      } catch (e) {
        if (!isBusy(e)) throw e;
        if (spin < SPIN_WAITS_MS.length) {
          Atomics.wait(PAUSE, 0, 0, SPIN_WAITS_MS[spin]!);
          continue;
        }
        if (Date.now() >= deadline) {
          throw new CcDmError('E_STORE_BUSY', `the cc-dm database stayed locked for more than ${Math.round(this.busyLimitMs / 1000)} s (another process holds a write lock on ${this.where}); nothing was written. Try again, or find the process holding it (cc-dm doctor).`);
        }
        await sleep(wait + Math.random() * wait);
        wait = Math.min(wait * 2, 100);
      }
    }
  }

  /** A write transaction taking the lock up front (BEGIN IMMEDIATE), so it never deadlocks on upgrade. */
  private write<T>(fn: () => T): Promise<T> {
    const tx = this.db.transaction(fn);
    return this.retry(() => tx.immediate());
  }

  /**
   * Statements are prepared once and reused: preparing one costs tens of microseconds, more than
   * most of these queries take to run, and a dm runs about six.
   */
  private readonly stmts = new Map<string, Database.Statement>();
  private sql(text: string): Database.Statement {
    let s = this.stmts.get(text);
    if (!s) {
      if (this.stmts.size >= 256) this.stmts.clear(); // built queries (history filters) stay bounded
      s = this.db.prepare(text);
      this.stmts.set(text, s);
    }
    return s;
  }

  private read<T>(fn: () => T): Promise<T> {
    return this.retry(fn);
  }

  private async migrate(): Promise<void> {
    const latest = SQLITE_MIGRATIONS[SQLITE_MIGRATIONS.length - 1]!.version;
    await this.write(() => {
      this.db.exec('CREATE TABLE IF NOT EXISTS cc_dm_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
      const current = (this.sql('SELECT coalesce(max(version), 0) AS v FROM cc_dm_migrations').get() as { v: number }).v;
      if (current > latest) {
        throw new CcDmError('E_STORE_VERSION', `the database ${this.where} has schema version ${current}, newer than this cc-dm knows (${latest}). Upgrade cc-dm; this version will not write to it.`);
      }
      for (const m of SQLITE_MIGRATIONS) {
        if (m.version <= current) continue;
        this.db.exec(m.sql);
        this.sql('INSERT INTO cc_dm_migrations (version, applied_at) VALUES (?, ?)').run(m.version, Date.now());
      }
    });
  }

  changeCounter(): Promise<number> {
    return this.read(() => this.db.pragma('data_version', { simple: true }) as number);
  }

  async schemaVersion(): Promise<number> {
    return this.read(() => (this.sql('SELECT coalesce(max(version), 0) AS v FROM cc_dm_migrations').get() as { v: number }).v);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  // --- sessions and names -------------------------------------------------------------------

  claimName(req: ClaimRequest, decide: ClaimDecider, isAlive: (s: SessionRow) => boolean): Promise<ClaimResult> {
    return this.write(() => {
      const now = Date.now();
      if (req.newSession) {
        const s = req.newSession;
        this.sql(`INSERT INTO sessions (id, role, project, cwd, host, pid, ppid, pid_start, ppid_start, can_push, client,
            doorbell, started_at, last_active_at, heartbeat_at)
          VALUES (@id, @role, @project, @cwd, @host, @pid, @ppid, @pid_start, @ppid_start, @can_push, @client, @doorbell,
            @started_at, @last_active_at, @heartbeat_at)`).run({ ...s, can_push: s.can_push ? 1 : 0 });
      }
      const wantedKey = nameKey(req.name);
      for (let n = 1; n <= 100; n++) {
        const display = n === 1 ? req.name.trim() : `${req.name.trim()}-${n}`;
        const key = nameKey(display);
        const name = this.sql('SELECT * FROM names WHERE key = ?').get(key) as any;
        const holderRow = this.sql('SELECT * FROM sessions WHERE name_key = ? AND ended_at IS NULL AND id != ?').get(key, req.sessionId) as any;
        const queued = (this.sql(`SELECT count(*) AS c FROM deliveries WHERE recipient_key = ? AND state = 'queued'`).get(key) as { c: number }).c;
        const d = decide({ candidate: n === 1 ? 'wanted' : 'variant', name: name && nameFromRow(name), holder: holderRow && sessionFromRow(holderRow), queued }, isAlive);
        if (d.kind === 'refuse') {
          if (req.newSession) throw new CcDmError(d.code, d.message); // rolls the new session back
          return { ok: false, code: d.code, message: d.message };
        }
        if (d.kind === 'variant') continue;
        if (d.endHolder) {
          this.sql(`UPDATE sessions SET ended_at = ?, end_reason = 'process gone; name taken back' WHERE id = ? AND ended_at IS NULL`).run(now, d.endHolder);
        }
        const self = sessionFromRow(this.sql('SELECT * FROM sessions WHERE id = ?').get(req.sessionId));
        const source = n === 1 ? req.source : 'variant';
        this.sql(`UPDATE sessions SET name = ?, name_key = ?, name_source = ?, wanted_name = ?, last_active_at = ? WHERE id = ?`)
          .run(display, key, source, n === 1 ? null : req.name.trim(), now, req.sessionId);
        this.sql(`INSERT INTO names (key, display, project, role, created_at, last_held_at) VALUES (?, ?, ?, ?, ?, ?)
          ON CONFLICT(key) DO UPDATE SET display = excluded.display, project = excluded.project, role = excluded.role,
            released_to = NULL, last_held_at = excluded.last_held_at`)
          .run(key, display, self.project, self.role, now, now);
        if (req.releasing && req.releasing !== key) {
          this.sql('UPDATE names SET released_to = ? WHERE key = ?').run(display, req.releasing);
          this.sql(`UPDATE OR IGNORE deliveries SET recipient_key = ?, recipient_name = ? WHERE recipient_key = ? AND state = 'queued'`)
            .run(key, display, req.releasing);
        }
        const session = sessionFromRow(this.sql('SELECT * FROM sessions WHERE id = ?').get(req.sessionId));
        return { ok: true, session, variantOf: n === 1 ? undefined : req.name.trim(), tookOverFrom: d.endHolder } as ClaimResult;
      }
      throw new CcDmError('E_NAME_TAKEN', `"${req.name}" and its variants up to -100 are all held; choose another CC_DM_SESSION_NAME.`, { wantedKey });
    });
  }

  endSession(id: string, reason: string): Promise<void> {
    return this.write(() => {
      this.sql('UPDATE sessions SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL').run(Date.now(), reason, id);
    });
  }

  updateSession(id: string, patch: SessionPatch): Promise<void> {
    const cols = Object.keys(patch);
    if (cols.length === 0) return Promise.resolve();
    const values = cols.map((c) => { const v = (patch as any)[c]; return typeof v === 'boolean' ? (v ? 1 : 0) : v; });
    return this.write(() => {
      this.sql(`UPDATE sessions SET ${cols.map((c) => `${c} = ?`).join(', ')} WHERE id = ?`).run(...values, id);
      if ('role' in patch || 'project' in patch) {
        this.sql(`UPDATE names SET role = s.role, project = s.project FROM (SELECT name_key, role, project FROM sessions WHERE id = ?) s
          WHERE names.key = s.name_key`).run(id);
      }
    });
  }

  getSession(id: string): Promise<SessionRow | undefined> {
    return this.read(() => {
      const r = this.sql('SELECT * FROM sessions WHERE id = ?').get(id);
      return r ? sessionFromRow(r) : undefined;
    });
  }

  openSessions(): Promise<SessionRow[]> {
    return this.read(() => this.sql('SELECT * FROM sessions WHERE ended_at IS NULL ORDER BY started_at').all().map(sessionFromRow));
  }

  holderOf(key: string): Promise<SessionRow | undefined> {
    return this.read(() => {
      const r = this.sql('SELECT * FROM sessions WHERE name_key = ? AND ended_at IS NULL').get(key);
      return r ? sessionFromRow(r) : undefined;
    });
  }

  lookup(key: string): Promise<{ name?: NameRow; holder?: SessionRow }> {
    return this.read(() => {
      const name = this.sql('SELECT * FROM names WHERE key = ?').get(key);
      const holder = this.sql('SELECT * FROM sessions WHERE name_key = ? AND ended_at IS NULL').get(key);
      return { name: name ? nameFromRow(name) : undefined, holder: holder ? sessionFromRow(holder) : undefined };
    });
  }

  listNames(): Promise<NameRow[]> {
    return this.read(() => this.sql('SELECT * FROM names ORDER BY key').all().map(nameFromRow));
  }

  reserveName(display: string, key: string, reserved: boolean): Promise<void> {
    return this.write(() => {
      this.sql(`INSERT INTO names (key, display, reserved, created_at) VALUES (?, ?, ?, ?)
        ON CONFLICT(key) DO UPDATE SET reserved = excluded.reserved`).run(key, display, reserved ? 1 : 0, Date.now());
    });
  }

  // --- messages -----------------------------------------------------------------------------

  insertMessages(mail: readonly NewMail[]): Promise<MessageRow[]> {
    return this.write(() => mail.map(({ message: m, recipients, reply }) => {
      const { seq } = this.sql(`INSERT INTO messages (id, kind, from_name, from_key, from_session, sender_kind, to_name, project,
          content, priority, message_type, thread_id, sent_at, expires_at)
        VALUES (@id, @kind, @from_name, @from_key, @from_session, @sender_kind, @to_name, @project, @content, @priority,
          @message_type, @thread_id, @sent_at, @expires_at) RETURNING seq`).get(m) as { seq: number };
      const ins = this.sql(`INSERT INTO deliveries (message_seq, recipient_key, recipient_name, state, queued_at) VALUES (?, ?, ?, 'queued', ?)`);
      // Mail queued for a name nobody has held yet makes that name a mailbox.
      const mailbox = this.sql('INSERT INTO names (key, display, created_at) VALUES (?, ?, ?) ON CONFLICT(key) DO NOTHING');
      for (const r of recipients) {
        ins.run(seq, r.key, r.display, m.sent_at);
        mailbox.run(r.key, r.display, m.sent_at);
      }
      if (reply) {
        this.sql(`UPDATE deliveries SET state = 'replied', replied_at = ?
          WHERE recipient_key = ? AND state = 'delivered' AND message_seq IN
            (SELECT seq FROM messages WHERE from_key = ? AND (? IS NULL OR thread_id = ?))`)
          .run(m.sent_at, reply.recipientKey, reply.senderKey, reply.thread_id, reply.thread_id);
      }
      return { ...m, seq };
    }));
  }

  pendingFor(recipientKey: string, limit: number, now: number): Promise<PendingDelivery[]> {
    // INDEXED BY: without it the planner picks deliveries_recipient and reads every message the
    // recipient ever got (330 µs per drain at 2,200 delivered, growing with history); the partial
    // index holds only what waits.
    return this.read(() => this.sql(`SELECT ${MSG_COLS}, ${DEL_COLS} FROM deliveries d INDEXED BY deliveries_queued JOIN messages m ON m.seq = d.message_seq
        WHERE d.recipient_key = ? AND d.state = 'queued' AND m.expires_at > ? ORDER BY d.message_seq LIMIT ?`)
      .all(recipientKey, now, limit).map(splitRow));
  }

  countPending(recipientKey: string, now: number): Promise<number> {
    return this.read(() => (this.sql(`SELECT count(*) AS c FROM deliveries d JOIN messages m ON m.seq = d.message_seq
        WHERE d.recipient_key = ? AND d.state = 'queued' AND m.expires_at > ?`).get(recipientKey, now) as { c: number }).c);
  }

  markDelivered(messageSeq: number, recipientKey: string, sessionId: string, via: 'push' | 'pull', at: number): Promise<boolean> {
    return this.write(() => this.sql(`UPDATE deliveries SET state = 'delivered', delivered_at = ?, delivered_via = ?, delivered_session = ?
        WHERE message_seq = ? AND recipient_key = ? AND state = 'queued'`).run(at, via, sessionId, messageSeq, recipientKey).changes === 1);
  }

  /**
   * Expires due mail (only queued rows are looked at, through their partial index) and, as the
   * minute's housekeeping, brings the full-text index up to date.
   */
  expireDue(now: number): Promise<number> {
    return this.write(() => {
      const n = this.sql(`UPDATE deliveries SET state = 'expired', expired_at = ?, expire_reason = 'time to live ran out before the recipient was online'
        WHERE state = 'queued' AND (SELECT m.expires_at FROM messages m WHERE m.seq = deliveries.message_seq) <= ?`).run(now, now).changes;
      this.indexText();
      return n;
    });
  }

  /** Adds the messages written since the last call to the full-text index (inside a write). */
  private indexText(): void {
    const { indexed_seq: from } = this.sql('SELECT indexed_seq FROM fts_progress WHERE id = 1').get() as { indexed_seq: number };
    const { upto } = this.sql('SELECT coalesce(max(seq), 0) AS upto FROM messages').get() as { upto: number };
    if (upto <= from) return;
    this.sql('INSERT INTO messages_fts (rowid, content) SELECT seq, content FROM messages WHERE seq > ? AND seq <= ?').run(from, upto);
    this.sql('UPDATE fts_progress SET indexed_seq = ? WHERE id = 1').run(upto);
  }

  private deliveriesOf(seqs: number[]): Map<number, DeliveryRow[]> {
    if (seqs.length === 0) return new Map();
    const rows = this.sql(`SELECT ${DEL_COLS} FROM deliveries d WHERE d.message_seq IN (SELECT value FROM json_each(?)) ORDER BY d.recipient_key`)
      .all(JSON.stringify(seqs)) as DeliveryRow[];
    return bySeq(rows);
  }

  trace(messageId: string): Promise<Trace | undefined> {
    return this.read(() => {
      const m = this.sql(`SELECT ${MSG_COLS} FROM messages m WHERE m.id = ?`).get(messageId) as MessageRow | undefined;
      if (!m) return undefined;
      return { message: m, deliveries: this.deliveriesOf([m.seq]).get(m.seq) ?? [] };
    });
  }

  history(f: HistoryFilter): Promise<Trace[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    const to = `EXISTS (SELECT 1 FROM deliveries x WHERE x.message_seq = m.seq AND x.recipient_key = ?)`;
    if (f.participant && f.peer) {
      where.push(`((m.from_key = ? AND ${to}) OR (m.from_key = ? AND ${to}))`);
      args.push(f.participant, f.peer, f.peer, f.participant);
    } else if (f.participant) {
      where.push(`(m.from_key = ? OR ${to})`);
      args.push(f.participant, f.participant);
    } else if (f.peer) {
      where.push(`(m.from_key = ? OR ${to})`);
      args.push(f.peer, f.peer);
    }
    if (f.thread_id) { where.push('m.thread_id = ?'); args.push(f.thread_id); }
    if (f.project) { where.push('m.project = ?'); args.push(f.project); }
    if (f.since !== undefined) { where.push('m.sent_at >= ?'); args.push(f.since); }
    if (f.until !== undefined) { where.push('m.sent_at <= ?'); args.push(f.until); }
    if (f.afterSeq !== undefined) { where.push('m.seq > ?'); args.push(f.afterSeq); }
    if (f.query) { where.push('m.seq IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?)'); args.push(ftsQuery(f.query)); }
    const order = f.afterSeq !== undefined ? 'ASC' : 'DESC';
    const sql = `SELECT ${MSG_COLS} FROM messages m ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY m.seq ${order} LIMIT ?`;
    return (f.query ? this.write(() => this.indexText()) : Promise.resolve()).then(() => this.read(() => {
      const msgs = this.sql(sql).all(...args, f.limit) as MessageRow[];
      if (order === 'DESC') msgs.reverse();
      const dels = this.deliveriesOf(msgs.map((m) => m.seq));
      return msgs.map((m) => ({ message: m, deliveries: dels.get(m.seq) ?? [] }));
    }));
  }

  hasWritten(fromKey: string, toKey: string): Promise<boolean> {
    return this.read(() => !!this.sql(`SELECT 1 FROM messages m JOIN deliveries d ON d.message_seq = m.seq
        WHERE m.from_key = ? AND d.recipient_key = ? LIMIT 1`).get(fromKey, toKey));
  }

  prune(before: number): Promise<{ messages: number; sessions: number }> {
    return this.write(() => {
      // Mail still waiting is kept whatever its age: retention never drops what was not yet delivered.
      const messages = this.sql(`DELETE FROM messages WHERE sent_at < ? AND NOT EXISTS
          (SELECT 1 FROM deliveries d WHERE d.message_seq = messages.seq AND d.state = 'queued')`).run(before).changes;
      const sessions = this.sql('DELETE FROM sessions WHERE ended_at IS NOT NULL AND ended_at < ?').run(before).changes;
      this.sql(`DELETE FROM permissions WHERE created_at < ? AND state != 'pending'`).run(before);
      return { messages, sessions };
    });
  }

  // --- permission relay ---------------------------------------------------------------------

  createPermission(p: NewPermission): Promise<PermissionRow> {
    return this.write(() => {
      // A pending request with the same id from an earlier incarnation is moot: its dialog is gone.
      this.sql(`UPDATE permissions SET state = 'expired' WHERE requester_key = ? AND request_id = ? AND state = 'pending'`)
        .run(p.requester_key, p.request_id);
      return this.sql(`INSERT INTO permissions (request_id, requester_key, requester_name, requester_session, approver_key,
          tool_name, description, input_preview, state, created_at)
        VALUES (@request_id, @requester_key, @requester_name, @requester_session, @approver_key, @tool_name, @description,
          @input_preview, 'pending', @created_at) RETURNING *`).get(p) as PermissionRow;
    });
  }

  pendingPermission(requesterKey: string, requestId: string): Promise<PermissionRow | undefined> {
    return this.read(() => this.sql(`SELECT * FROM permissions WHERE requester_key = ? AND request_id = ? AND state = 'pending'`)
      .get(requesterKey, requestId) as PermissionRow | undefined);
  }

  decidePermission(id: number, behavior: Behavior, by: string, kind: SenderKind, at: number): Promise<boolean> {
    return this.write(() => this.sql(`UPDATE permissions SET state = ?, decided_by = ?, decided_kind = ?, decided_at = ?
        WHERE id = ? AND state = 'pending'`).run(behavior, by, kind, at, id).changes === 1);
  }

  verdictsToNotify(requesterSession: string): Promise<PermissionRow[]> {
    return this.read(() => this.sql(`SELECT * FROM permissions WHERE requester_session = ? AND state IN ('allow', 'deny')
        AND notified_at IS NULL ORDER BY id`).all(requesterSession) as PermissionRow[]);
  }

  markVerdictNotified(id: number, at: number): Promise<void> {
    return this.write(() => { this.sql('UPDATE permissions SET notified_at = ? WHERE id = ?').run(at, id); });
  }

  listPermissions(pendingOnly: boolean): Promise<PermissionRow[]> {
    return this.read(() => this.sql(`SELECT * FROM permissions ${pendingOnly ? `WHERE state = 'pending'` : ''} ORDER BY id DESC LIMIT 500`)
      .all() as PermissionRow[]);
  }
}
