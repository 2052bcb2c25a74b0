/**
 * The embedded store: one SQLite file in WAL mode shared by every server on the machine. This
 * file is SQL only; the connection, its busy retry and the file's privacy are in connection.ts,
 * and every rule is the bus's.
 */
import { statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { CcDmError } from '../../errors.js';
import { historyQuery, type HistoryDialect, type PairSide } from '../history-query.js';
import { migrate, type MigrationTarget } from '../migrator.js';
import { runPlan } from '../plan.js';
import { bySeq, DEL_COLS, EXPIRE_REASON, MSG_COLS, splitRow } from '../rows.js';
import {
  SESSION_PATCH_COLUMNS,
  type Behavior,
  type ClaimPlan,
  type ClaimSteps,
  type DeliveredVia,
  type HookClaim,
  type DeliveryRow,
  type HistoryFilter,
  type ListenConnection,
  type MessageRow,
  type NameRow,
  type NewMail,
  type ReplyMark,
  type NewPermission,
  type PendingDelivery,
  type PermissionRow,
  type SenderKind,
  type SessionPatch,
  type SessionRow,
  type Store,
  type Trace,
} from '../types.js';
import { corruptError, isCorrupt, SqliteConnection, sqlLimit } from './connection.js';
import { ftsQuery } from './fts.js';

export interface SqliteOptions {
  path: string;
  busyLimitMs: number;
}

/**
 * Prune deletes this many messages per transaction: 500 held the lock long enough for a dm p99
 * of 1,185 ms while 200,000 were pruned, 100 gave 134 ms (load 12).
 */
const PRUNE_BATCH = 100;
/**
 * A prune checkpoints the WAL itself every so many transactions, between them (PASSIVE: it
 * blocks nobody). Its deletes write pages fast; left to SQLite's backstop (checkpoint.ts), the
 * checkpoint fell into whichever commit took the WAL past it, often a session's dm, which then
 * waited for thousands of pages to be copied into a file of hundreds of MB.
 */
const PRUNE_CHECKPOINT_EVERY = 8;
/** Pages given back per incremental_vacuum transaction (2,000 made sends wait; 500 did not). */
const VACUUM_STEP_PAGES = 500;
/** PRAGMA auto_vacuum's value for INCREMENTAL. */
const AUTO_VACUUM_INCREMENTAL = 2;

/** A pair's sides are counted up to this many messages (enough to tell a small side from a busy one). */
const PAIR_SIDE_CAP = 1_000;

type Row = Record<string, unknown>;
const sessionFromRow = (r: Row): SessionRow => ({ ...(r as unknown as SessionRow), can_push: r.can_push === 1 });
const nameFromRow = (r: Row): NameRow => ({ ...(r as unknown as NameRow), reserved: r.reserved === 1 });
const bit = (v: unknown) => (typeof v === 'boolean' ? (v ? 1 : 0) : v);

const DIALECT: HistoryDialect = {
  param: (args, v) => {
    args.push(v);
    return '?';
  },
  limit: (_args, n) => sqlLimit(n),
  table: (name) => name,
  indexedBy: (index) => ` INDEXED BY ${index}`,
  seqIn: (subquery) => `m.seq IN (${subquery})`,
  matches: (p) => `m.seq IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ${p})`,
  queryText: ftsQuery,
};

export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  readonly capabilities = { multiHost: false, ring: 'sockets', localFile: true } as const;
  readonly where: string;

  private constructor(private readonly c: SqliteConnection) {
    this.where = c.path;
  }

  /** Opens, checks the file is a database, and migrates. */
  static async open(opts: SqliteOptions): Promise<SqliteStore> {
    const c = await SqliteConnection.open(opts.path, opts.busyLimitMs);
    const store = new SqliteStore(c);
    try {
      await migrate(store.migrationTarget());
      c.restrictSideFiles();
    } catch (e) {
      c.close();
      if (isCorrupt(e)) throw corruptError(opts.path, e);
      throw e;
    }
    return store;
  }

  private migrationTarget(): MigrationTarget {
    const c = this.c;
    const versionSql = 'SELECT coalesce(max(version), 0) AS v FROM cc_dm_migrations';
    return {
      dialect: 'sqlite',
      where: this.where,
      peekVersion: () =>
        c.read(() => {
          const has = c.db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'cc_dm_migrations'`).get();
          return has ? (c.db.prepare(versionSql).get() as { v: number }).v : 0;
        }),
      // The migrations run while the store is opening, before anyone else uses this connection,
      // so the transaction may span the migrator's awaits. BEGIN IMMEDIATE is the lock.
      locked: async (fn) => {
        await c.retry(() => c.db.exec('BEGIN IMMEDIATE'));
        try {
          await fn({
            version: async () => {
              c.db.exec('CREATE TABLE IF NOT EXISTS cc_dm_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
              return (c.db.prepare(versionSql).get() as { v: number }).v;
            },
            apply: async (version, sql) => {
              c.db.prepare('INSERT INTO cc_dm_migrations (version, applied_at) VALUES (?, ?)').run(version, Date.now());
              c.db.exec(sql);
            },
          });
          c.db.exec('COMMIT');
        } catch (e) {
          if (c.db.inTransaction) c.db.exec('ROLLBACK');
          throw e;
        }
      },
    };
  }

  private sql(text: string) {
    return this.c.sql(text);
  }

  /**
   * The idle poll's one read, every 5 s in every session, through a statement prepared once:
   * db.pragma() prepared a new statement each time, about half of what an idle wakeup cost
   * (20 idle sessions: 35 -> 29 ms of CPU per 30 s; a bare 5 s Node timer costs 18).
   */
  changeCounter(): Promise<number> {
    return this.c.read(() => this.sql('PRAGMA data_version').pluck().get() as number);
  }

  listen(): ListenConnection {
    throw new CcDmError('E_INTERNAL', 'the SQLite store has no listening connection: its doorbells are Unix sockets.');
  }

  async schemaVersion(): Promise<number> {
    return this.c.read(() => (this.sql('SELECT coalesce(max(version), 0) AS v FROM cc_dm_migrations').get() as { v: number }).v);
  }

  async close(): Promise<void> {
    this.c.close();
  }

  // --- sessions and names -------------------------------------------------------------------

  private readonly steps: ClaimSteps = {
    insertSession: (s) => {
      this.sql(
        `INSERT INTO sessions (id, role, project, cwd, host, pid, ppid, pid_start, ppid_start, can_push, client,
          doorbell, started_at, last_active_at, heartbeat_at, machine, heartbeat_expiry_ms, agent, agent_pid, path,
          agent_session, wake)
        VALUES (@id, @role, @project, @cwd, @host, @pid, @ppid, @pid_start, @ppid_start, @can_push, @client, @doorbell,
          @started_at, @last_active_at, @heartbeat_at, @machine, @heartbeat_expiry_ms, @agent, @agent_pid, @path,
          @agent_session, @wake)`,
      ).run({ ...s, can_push: bit(s.can_push), agent_session: s.agent_session ?? null, wake: s.wake ?? null });
    },
    candidate: (key, exceptSession) => {
      const name = this.sql('SELECT * FROM names WHERE key = ?').get(key) as Row | undefined;
      const holder = this.sql('SELECT * FROM sessions WHERE name_key = ? AND ended_at IS NULL AND id != ?').get(key, exceptSession) as
        Row | undefined;
      const queued = (
        this.sql(`SELECT count(*) AS c FROM deliveries WHERE recipient_key = ? AND state = 'queued'`).get(key) as { c: number }
      ).c;
      return { name: name && nameFromRow(name), holder: holder && sessionFromRow(holder), queued };
    },
    endSession: (id, reason, at) => {
      this.sql('UPDATE sessions SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL').run(at, reason, id);
    },
    take: (t) => {
      if (t.identity)
        this.sql('UPDATE sessions SET role = ?, project = ? WHERE id = ?').run(t.identity.role, t.identity.project, t.sessionId);
      this.sql(
        'UPDATE sessions SET name = ?, name_key = ?, name_source = ?, wanted_name = ?, last_active_at = ?, history_since = ? WHERE id = ?',
      ).run(t.display, t.key, t.source, t.wanted, t.at, t.historySince, t.sessionId);
      this.sql(
        `INSERT INTO names (key, display, project, role, created_at, last_held_at)
          SELECT ?, ?, project, role, ?, ? FROM sessions WHERE id = ?
        ON CONFLICT(key) DO UPDATE SET display = excluded.display, project = excluded.project, role = excluded.role,
          released_to = NULL, last_held_at = excluded.last_held_at`,
      ).run(t.key, t.display, t.at, t.at, t.sessionId);
      return sessionFromRow(this.sql('SELECT * FROM sessions WHERE id = ?').get(t.sessionId) as Row);
    },
    release: (t) => {
      this.sql('UPDATE names SET released_to = ? WHERE key = ?').run(t.toDisplay, t.fromKey);
      // Older names that pointed here point at the new name.
      this.sql('UPDATE names SET released_to = ? WHERE lower(released_to) = ?').run(t.toDisplay, t.fromKey);
      // A released name no message ever named (its queued mail not yet moved), and nobody reserved,
      // leaves nothing behind.
      if (t.collect)
        this.sql(
          `DELETE FROM names WHERE key = ? AND reserved = 0
          AND NOT EXISTS (SELECT 1 FROM messages WHERE from_key = ?) AND NOT EXISTS (SELECT 1 FROM deliveries WHERE recipient_key = ?)
          AND NOT EXISTS (SELECT 1 FROM sessions WHERE name_key = ? AND ended_at IS NULL)`,
        ).run(t.fromKey, t.fromKey, t.fromKey, t.fromKey);
      // OR IGNORE: a message already addressed to both names stays where it is.
      this.sql(`UPDATE OR IGNORE deliveries SET recipient_key = ?, recipient_name = ? WHERE recipient_key = ? AND state = 'queued'`).run(
        t.toKey,
        t.toDisplay,
        t.fromKey,
      );
    },
  };

  claim<R>(plan: () => ClaimPlan<R>): Promise<R> {
    return this.c.write(() => runPlan(plan(), this.steps));
  }

  endSession(id: string, reason: string, at: number): Promise<void> {
    return this.c.write(() => this.steps.endSession(id, reason, at));
  }

  updateSession(id: string, patch: SessionPatch): Promise<void> {
    const cols = Object.keys(patch).filter((c) => SESSION_PATCH_COLUMNS.has(c));
    if (cols.length === 0) return Promise.resolve();
    const values = cols.map((c) => bit((patch as Row)[c]));
    return this.c.write(() => {
      this.sql(`UPDATE sessions SET ${cols.map((c) => `${c} = ?`).join(', ')} WHERE id = ?`).run(...values, id);
      if ('role' in patch || 'project' in patch) {
        this.sql(
          `UPDATE names SET role = s.role, project = s.project FROM (SELECT name_key, role, project FROM sessions WHERE id = ?) s
          WHERE names.key = s.name_key`,
        ).run(id);
      }
    });
  }

  getSession(id: string): Promise<SessionRow | undefined> {
    return this.c.read(() => {
      const r = this.sql('SELECT * FROM sessions WHERE id = ?').get(id) as Row | undefined;
      return r && sessionFromRow(r);
    });
  }

  openSessions(): Promise<SessionRow[]> {
    return this.c.read(() =>
      (this.sql('SELECT * FROM sessions WHERE ended_at IS NULL ORDER BY started_at').all() as Row[]).map(sessionFromRow),
    );
  }

  holderOf(key: string): Promise<SessionRow | undefined> {
    return this.c.read(() => {
      const r = this.sql('SELECT * FROM sessions WHERE name_key = ? AND ended_at IS NULL').get(key) as Row | undefined;
      return r && sessionFromRow(r);
    });
  }

  lookup(key: string): Promise<{ name?: NameRow; holder?: SessionRow }> {
    return this.c.read(() => {
      const name = this.sql('SELECT * FROM names WHERE key = ?').get(key) as Row | undefined;
      const holder = this.sql('SELECT * FROM sessions WHERE name_key = ? AND ended_at IS NULL').get(key) as Row | undefined;
      return { name: name && nameFromRow(name), holder: holder && sessionFromRow(holder) };
    });
  }

  listNames(): Promise<NameRow[]> {
    return this.c.read(() => (this.sql('SELECT * FROM names ORDER BY key').all() as Row[]).map(nameFromRow));
  }

  reserveName(display: string, key: string, reserved: boolean, at: number): Promise<void> {
    return this.c.write(() => {
      this.sql(
        `INSERT INTO names (key, display, reserved, created_at) VALUES (?, ?, ?, ?)
        ON CONFLICT(key) DO UPDATE SET reserved = excluded.reserved`,
      ).run(key, display, bit(reserved), at);
    });
  }

  // --- messages -----------------------------------------------------------------------------

  insertMessages(mail: readonly NewMail[]): Promise<MessageRow[]> {
    return this.c.write(() =>
      mail.map(({ message: m, recipients, reply }) => {
        const { seq } = this.sql(
          `INSERT INTO messages (id, kind, from_name, from_key, from_session, sender_kind, to_name, project,
          content, priority, message_type, thread_id, sent_at, expires_at)
        VALUES (@id, @kind, @from_name, @from_key, @from_session, @sender_kind, @to_name, @project, @content, @priority,
          @message_type, @thread_id, @sent_at, @expires_at) RETURNING seq`,
        ).get(m) as { seq: number };
        const ins = this.sql(
          `INSERT INTO deliveries (message_seq, recipient_key, recipient_name, state, queued_at) VALUES (?, ?, ?, 'queued', ?)`,
        );
        // Mail queued for a name nobody has held yet makes that name a mailbox.
        const mailbox = this.sql('INSERT INTO names (key, display, created_at) VALUES (?, ?, ?) ON CONFLICT(key) DO NOTHING');
        for (const r of recipients) {
          ins.run(seq, r.key, r.display, m.sent_at);
          mailbox.run(r.key, r.display, m.sent_at);
        }
        if (reply) this.markReplied(reply, m.sent_at);
        return { ...m, seq };
      }),
    );
  }

  /**
   * A reply marks what its sender had delivered from the one it answers: read from the smaller
   * side, the replier's delivered mail (which a reply empties) or the other's sent messages
   * (which only grow), each counted up to PAIR_SIDE_CAP. From the sent side alone, a dm to a name
   * that had sent 20,000 messages took 2.8 ms in the store, 100,000 took 13.8 ms, all of it
   * holding the write lock (0.11 ms to a new name); from the smaller side 0.1-0.4 ms.
   */
  private markReplied(reply: ReplyMark, at: number): void {
    const args = [at, reply.recipientKey, reply.since ?? 0, reply.senderKey, reply.thread_id, reply.thread_id];
    const delivered = this.sql(
      `SELECT count(*) FROM (SELECT 1 FROM deliveries INDEXED BY deliveries_delivered WHERE recipient_key = ? AND state = 'delivered'
        LIMIT ${PAIR_SIDE_CAP})`,
    )
      .pluck()
      .get(reply.recipientKey) as number;
    if (delivered === 0) return;
    const sent = this.sentUpToCap(reply.senderKey);
    // Both sides past the cap: the sent side, whose list of seqs costs a third of a delivery
    // checked one by one (20,000 each: 2.8 against 10 ms).
    if (delivered <= sent && delivered < PAIR_SIDE_CAP)
      this.sql(
        `UPDATE deliveries INDEXED BY deliveries_delivered SET state = 'replied', replied_at = ?
        WHERE recipient_key = ? AND state = 'delivered' AND queued_at >= ? AND EXISTS
          (SELECT 1 FROM messages m WHERE m.seq = deliveries.message_seq AND m.from_key = ? AND (? IS NULL OR m.thread_id = ?))`,
      ).run(...args);
    else
      this.sql(
        `UPDATE deliveries SET state = 'replied', replied_at = ?
        WHERE recipient_key = ? AND state = 'delivered' AND queued_at >= ? AND message_seq IN
          (SELECT seq FROM messages WHERE from_key = ? AND (? IS NULL OR thread_id = ?))`,
      ).run(...args);
  }

  pendingFor(recipientKey: string, sessionId: string, limit: number, now: number): Promise<PendingDelivery[]> {
    // INDEXED BY: without it the planner picks deliveries_recipient and reads every message the
    // recipient ever got (330 µs per drain at 2,200 delivered, growing with history); the partial
    // index holds only what waits.
    return this.c.read(() =>
      (
        this.sql(
          `SELECT ${MSG_COLS}, ${DEL_COLS} FROM deliveries d INDEXED BY deliveries_queued
        JOIN messages m ON m.seq = d.message_seq
        WHERE d.recipient_key = ? AND d.state = 'queued' AND m.expires_at > ?
          AND EXISTS (SELECT 1 FROM sessions s WHERE s.id = ? AND s.ended_at IS NULL) ORDER BY d.message_seq LIMIT ${sqlLimit(limit)}`,
        ).all(recipientKey, now, sessionId) as Row[]
      ).map(splitRow),
    );
  }

  countPending(recipientKey: string, now: number): Promise<number> {
    return this.c.read(
      () =>
        (
          this.sql(
            `SELECT count(*) AS c FROM deliveries d JOIN messages m ON m.seq = d.message_seq
        WHERE d.recipient_key = ? AND d.state = 'queued' AND m.expires_at > ?`,
          ).get(recipientKey, now) as { c: number }
        ).c,
    );
  }

  pendingCounts(now: number): Promise<Map<string, number>> {
    return this.c.read(
      () =>
        new Map(
          (
            this.sql(
              `SELECT d.recipient_key AS k, count(*) AS c FROM deliveries d INDEXED BY deliveries_queued
        JOIN messages m ON m.seq = d.message_seq WHERE d.state = 'queued' AND m.expires_at > ? GROUP BY d.recipient_key`,
            ).all(now) as { k: string; c: number }[]
          ).map((r) => [r.k, r.c]),
        ),
    );
  }

  markDelivered(
    messageSeq: number,
    recipientKey: string,
    sessionId: string,
    via: DeliveredVia,
    at: number,
    claim?: HookClaim,
  ): Promise<boolean> {
    return this.c.write(
      () =>
        this.sql(
          `UPDATE deliveries SET state = 'delivered', delivered_at = ?, delivered_via = ?, delivered_session = ?, claim_code = ?, claim_offset = ?
        WHERE message_seq = ? AND recipient_key = ? AND state = 'queued'
          AND EXISTS (SELECT 1 FROM sessions s WHERE s.id = ? AND s.ended_at IS NULL)`,
        ).run(at, via, sessionId, claim?.code ?? null, claim?.offset ?? null, messageSeq, recipientKey, sessionId).changes === 1,
    );
  }

  unconfirmed(recipientKey: string): Promise<PendingDelivery[]> {
    return this.c.read(() =>
      (
        this.sql(
          `SELECT ${MSG_COLS}, ${DEL_COLS} FROM deliveries d INDEXED BY deliveries_unconfirmed JOIN messages m ON m.seq = d.message_seq
        WHERE d.recipient_key = ? AND d.delivered_via = 'hook' AND d.confirmed_at IS NULL AND d.state = 'delivered' ORDER BY d.message_seq`,
        ).all(recipientKey) as Row[]
      ).map(splitRow),
    );
  }

  confirm(messageSeq: number, recipientKey: string, at: number): Promise<void> {
    return this.c.write(() => {
      this.sql('UPDATE deliveries SET confirmed_at = ? WHERE message_seq = ? AND recipient_key = ? AND confirmed_at IS NULL').run(
        at,
        messageSeq,
        recipientKey,
      );
    });
  }

  requeue(messageSeq: number, recipientKey: string): Promise<boolean> {
    return this.c.write(
      () =>
        this.sql(
          `UPDATE deliveries SET state = 'queued', delivered_at = NULL, delivered_via = NULL, delivered_session = NULL, claim_code = NULL,
            claim_offset = NULL WHERE message_seq = ? AND recipient_key = ? AND state = 'delivered' AND confirmed_at IS NULL`,
        ).run(messageSeq, recipientKey).changes === 1,
    );
  }

  watchIdle(targetKey: string, watcherKey: string, watcherName: string, at: number): Promise<void> {
    return this.c.write(() => {
      this.sql(
        `INSERT INTO idle_watches (target_key, watcher_key, watcher_name, created_at) VALUES (?, ?, ?, ?)
        ON CONFLICT (target_key, watcher_key) DO UPDATE SET watcher_name = excluded.watcher_name, created_at = excluded.created_at`,
      ).run(targetKey, watcherKey, watcherName, at);
    });
  }

  takeIdleWatches(targetKey: string): Promise<{ watcher_key: string; watcher_name: string }[]> {
    return this.c.write(
      () =>
        this.sql('DELETE FROM idle_watches WHERE target_key = ? RETURNING watcher_key, watcher_name').all(targetKey) as {
          watcher_key: string;
          watcher_name: string;
        }[],
    );
  }

  /**
   * Expires due mail (only queued rows are looked at, through their partial index) and, as the
   * minute's housekeeping, brings the full-text index up to date.
   */
  expireDue(now: number): Promise<number> {
    return this.c.write(() => {
      const n = this.sql(
        `UPDATE deliveries SET state = 'expired', expired_at = ?, expire_reason = ?
        WHERE state = 'queued' AND (SELECT m.expires_at FROM messages m WHERE m.seq = deliveries.message_seq) <= ?`,
      ).run(now, EXPIRE_REASON, now).changes;
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
    const rows = this.sql(
      `SELECT ${DEL_COLS} FROM deliveries d WHERE d.message_seq IN (SELECT value FROM json_each(?)) ORDER BY d.recipient_key`,
    ).all(JSON.stringify(seqs)) as DeliveryRow[];
    return bySeq(rows);
  }

  trace(messageId: string): Promise<Trace | undefined> {
    return this.c.read(() => {
      const m = this.sql(`SELECT ${MSG_COLS} FROM messages m WHERE m.id = ?`).get(messageId) as MessageRow | undefined;
      if (!m) return undefined;
      return { message: m, deliveries: this.deliveriesOf([m.seq]).get(m.seq) ?? [] };
    });
  }

  async history(f: HistoryFilter): Promise<Trace[]> {
    if (f.query) await this.c.write(() => this.indexText());
    return this.c.read(() => {
      const q = historyQuery(f, DIALECT, { pairSide: (from, to) => this.pairSide(from, to) });
      const msgs = this.sql(q.sql).all(...q.args) as MessageRow[];
      if (q.newestFirst) msgs.reverse();
      const dels = this.deliveriesOf(msgs.map((m) => m.seq));
      return msgs.map((m) => ({ message: m, deliveries: dels.get(m.seq) ?? [] }));
    });
  }

  /**
   * A pair's messages one way are read from the smaller side: the sender's sent messages or the
   * recipient's received ones, each counted up to PAIR_SIDE_CAP through its index (a few µs). No
   * fixed statistics can say which side is smaller for a given pair: at 1,000,000 messages, with
   * the branch read from the busier side, a peer's history took 6.2 ms (0.44 ms empty); from the
   * smaller side, 0.61 ms.
   */
  private pairSide(fromKey: string, toKey: string): PairSide {
    const sent = this.sentUpToCap(fromKey);
    const received = this.sql(
      `SELECT count(*) FROM (SELECT 1 FROM deliveries INDEXED BY deliveries_recipient WHERE recipient_key = ? LIMIT ${PAIR_SIDE_CAP})`,
    )
      .pluck()
      .get(toKey) as number;
    return received < sent ? 'received' : 'sent';
  }

  /** How many messages `fromKey` has sent, counted up to PAIR_SIDE_CAP through its index (a few µs). */
  private sentUpToCap(fromKey: string): number {
    return this.sql(`SELECT count(*) FROM (SELECT 1 FROM messages INDEXED BY messages_from WHERE from_key = ? LIMIT ${PAIR_SIDE_CAP})`)
      .pluck()
      .get(fromKey) as number;
  }

  hasWritten(fromKey: string, toKey: string, since?: number | null): Promise<boolean> {
    return this.c.read(
      () =>
        !!this.sql(
          `SELECT 1 FROM messages m JOIN deliveries d ON d.message_seq = m.seq
        WHERE m.from_key = ? AND d.recipient_key = ? AND m.sent_at >= ? LIMIT 1`,
        ).get(fromKey, toKey, since ?? 0),
    );
  }

  queuedBy(sessionId: string, now: number): Promise<{ count: number; bytes: number }> {
    return this.c.read(
      () =>
        this.sql(
          `SELECT count(*) AS count, coalesce(sum(length(CAST(m.content AS BLOB))), 0) AS bytes
        FROM deliveries d INDEXED BY deliveries_queued JOIN messages m ON m.seq = d.message_seq
        WHERE d.state = 'queued' AND m.expires_at > ? AND m.from_session = ?`,
        ).get(now, sessionId) as { count: number; bytes: number },
    );
  }

  size(now: number): Promise<{ bytes: number; queued: number; queuedBytes: number }> {
    return this.c.read(() => {
      const pages =
        (this.c.db.pragma('page_count', { simple: true }) as number) * (this.c.db.pragma('page_size', { simple: true }) as number);
      let wal = 0;
      try {
        wal = statSync(this.where + '-wal').size;
      } catch {
        /* no WAL file right now */
      }
      const q = this.sql(
        `SELECT count(*) AS n, coalesce(sum(length(CAST(m.content AS BLOB))), 0) AS b
        FROM deliveries d INDEXED BY deliveries_queued JOIN messages m ON m.seq = d.message_seq
        WHERE d.state = 'queued' AND m.expires_at > ?`,
      ).get(now) as { n: number; b: number };
      return { bytes: pages + wal, queued: q.n, queuedBytes: q.b };
    });
  }

  /**
   * Deletes old history in short transactions of PRUNE_BATCH messages (with their deliveries and
   * full-text entries), the write lock free at least half the time, so that sessions sending
   * meanwhile wait for one batch, never for the whole prune: as one transaction, 200,000 messages
   * held the lock for 11 s (dm p99 while pruning 11,012 ms; batched: 134 ms at load 12). Then
   * gives the freed pages back to the file system (incremental vacuum, in steps; databases
   * created before 2.1 have auto_vacuum off, their pages are only reused) and truncates the
   * write-ahead log the deletes grew (200,000 messages: file 74 -> 138 MB before, 74 -> 10 MB now).
   */
  async prune(before: number): Promise<{ messages: number; sessions: number }> {
    let messages = 0;
    // Oldest first through messages_sent; the cursor skips mail still waiting (kept whatever its
    // age: retention never drops what was not yet delivered) instead of reading it again each batch.
    let cursor = Number.MIN_SAFE_INTEGER;
    let batches = 0;
    /** Between two transactions: a checkpoint every so many, and the lock left free as long as the last one held it. */
    const pause = async (t0: number) => {
      if (++batches % PRUNE_CHECKPOINT_EVERY === 0) this.c.checkpoints?.now();
      await sleep(Math.max(1, performance.now() - t0));
    };
    for (;;) {
      const t0 = performance.now();
      const n = await this.c.write(() => {
        const rows = this.sql(
          `SELECT seq, sent_at FROM messages m INDEXED BY messages_sent WHERE m.sent_at >= ? AND m.sent_at < ?
            AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.message_seq = m.seq AND d.state = 'queued')
          ORDER BY m.sent_at LIMIT ${sqlLimit(PRUNE_BATCH)}`,
        ).all(cursor, before) as { seq: number; sent_at: number }[];
        if (rows.length === 0) return 0;
        this.sql('DELETE FROM messages WHERE seq IN (SELECT value FROM json_each(?))').run(JSON.stringify(rows.map((r) => r.seq)));
        cursor = rows[rows.length - 1]!.sent_at;
        return rows.length;
      });
      messages += n;
      if (n < PRUNE_BATCH) break;
      await pause(t0);
    }
    const sessions = await this.c.write(() => {
      const ended = this.sql('DELETE FROM sessions WHERE ended_at IS NOT NULL AND ended_at < ?').run(before).changes;
      this.sql(`DELETE FROM permissions WHERE created_at < ? AND state != 'pending'`).run(before);
      // Names given up by a rename, past the retention, with nothing waiting and nobody holding them.
      this.sql(
        `DELETE FROM names WHERE released_to IS NOT NULL AND reserved = 0 AND coalesce(last_held_at, created_at) < ?
          AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.recipient_key = names.key AND d.state = 'queued')
          AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.name_key = names.key AND s.ended_at IS NULL)`,
      ).run(before);
      return ended;
    });
    if (this.sql('PRAGMA auto_vacuum').pluck().get() === AUTO_VACUUM_INCREMENTAL) {
      while ((this.sql('PRAGMA freelist_count').pluck().get() as number) > 0) {
        const t0 = performance.now();
        // exec, not a statement's run(): each step of the pragma frees one page.
        await this.c.write(() => this.c.db.exec(`PRAGMA incremental_vacuum(${VACUUM_STEP_PAGES})`));
        await pause(t0);
      }
    }
    // Best effort: a reader in the middle of the log only keeps it from shrinking now. TRUNCATE
    // holds off every writer while it copies, so the pages are copied first without blocking
    // anyone (PASSIVE), and TRUNCATE is left only the rest and the truncation.
    this.c.checkpoints?.now();
    await this.c.retry(() => this.sql('PRAGMA wal_checkpoint(TRUNCATE)').all()).catch(() => {});
    return { messages, sessions };
  }

  // --- permission relay ---------------------------------------------------------------------

  createPermission(p: NewPermission): Promise<PermissionRow> {
    return this.c.write(() => {
      // A pending request with the same id from an earlier incarnation is moot: its dialog is gone.
      this.sql(`UPDATE permissions SET state = 'expired' WHERE requester_key = ? AND request_id = ? AND state = 'pending'`).run(
        p.requester_key,
        p.request_id,
      );
      return this.sql(
        `INSERT INTO permissions (request_id, requester_key, requester_name, requester_session, approver_key,
          tool_name, description, input_preview, state, created_at)
        VALUES (@request_id, @requester_key, @requester_name, @requester_session, @approver_key, @tool_name, @description,
          @input_preview, 'pending', @created_at) RETURNING *`,
      ).get(p) as PermissionRow;
    });
  }

  pendingPermission(requesterKey: string, requestId: string): Promise<PermissionRow | undefined> {
    return this.c.read(
      () =>
        this.sql(`SELECT * FROM permissions WHERE requester_key = ? AND request_id = ? AND state = 'pending'`).get(
          requesterKey,
          requestId,
        ) as PermissionRow | undefined,
    );
  }

  decidePermission(id: number, behavior: Behavior, by: string, kind: SenderKind, at: number): Promise<boolean> {
    return this.c.write(
      () =>
        this.sql(
          `UPDATE permissions SET state = ?, decided_by = ?, decided_kind = ?, decided_at = ?
        WHERE id = ? AND state = 'pending'`,
        ).run(behavior, by, kind, at, id).changes === 1,
    );
  }

  verdictsToNotify(requesterSession: string): Promise<PermissionRow[]> {
    return this.c.read(
      () =>
        this.sql(
          `SELECT * FROM permissions WHERE requester_session = ? AND state IN ('allow', 'deny')
        AND notified_at IS NULL ORDER BY id`,
        ).all(requesterSession) as PermissionRow[],
    );
  }

  markVerdictNotified(id: number, at: number): Promise<void> {
    return this.c.write(() => {
      this.sql('UPDATE permissions SET notified_at = ? WHERE id = ?').run(at, id);
    });
  }

  listPermissions(pendingOnly: boolean): Promise<PermissionRow[]> {
    return this.c.read(
      () =>
        this.sql(
          `SELECT * FROM permissions ${pendingOnly ? `WHERE state = 'pending'` : ''} ORDER BY id DESC LIMIT 500`,
        ).all() as PermissionRow[],
    );
  }
}
