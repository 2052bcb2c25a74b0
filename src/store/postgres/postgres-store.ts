/**
 * The PostgreSQL store, for sessions on several machines: the SQLite store's semantics, row for
 * row, with LISTEN/NOTIFY as the doorbell and heartbeats for liveness across hosts. This file is
 * SQL only; connecting, classifying errors and listening are beside it, every rule is the bus's.
 *
 * - A pool sized for one session: a server has one tool call, one drain and one heartbeat in
 *   flight at most, so 3 connections (plus the doorbell's LISTEN connection) suffice; idle ones
 *   close after a minute, so twenty idle sessions hold about forty connections, not eighty.
 * - Every write is one transaction. A write that fails because the server went away (restart,
 *   failover, network) is retried with backoff for up to `retryLimitMs`, then fails with
 *   E_STORE_DOWN: nothing is half-written, and nothing reported as accepted is lost. A retry
 *   after an ambiguous COMMIT is harmless: the message id and session id are unique, and a
 *   repeat finds the first attempt's row.
 * - Name claims take one transaction-scoped advisory lock, so claims run one at a time and of
 *   two racing processes exactly one holds a name (the partial unique index backs it up).
 * - The store rings recipients itself (NOTIFY, payload: the recipient's name key or session id),
 *   inside the statement that writes the mail or the verdict: PostgreSQL delivers it at commit,
 *   so a ring never precedes the row it announces, and a sender dying right after still rings.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { CcDmError } from '../../errors.js';
import { historyQuery, type HistoryDialect } from '../history-query.js';
import { migrate, type MigrationTarget } from '../migrator.js';
import { runPlanAsync } from '../plan.js';
import { bySeq, DEL_COLS, EXPIRE_REASON, MSG_COLS, splitRow } from '../rows.js';
import {
  SESSION_PATCH_COLUMNS,
  type AsyncClaimSteps,
  type Behavior,
  type ClaimPlan,
  type DeliveredVia,
  type HookClaim,
  type DeliveryRow,
  type HistoryFilter,
  type ListenConnection,
  type MessageRow,
  type NameRow,
  type NewMail,
  type NewPermission,
  type PendingDelivery,
  type PermissionRow,
  type SenderKind,
  type SessionPatch,
  type SessionRow,
  type Store,
  type Trace,
} from '../types.js';
import { clientConfig, describeUrl, downError, isRetryable, translate } from './connection.js';
import { PgListenConnection, RING_CHANNEL } from './listen.js';

export interface PostgresOptions {
  url: string;
  /** How long a write keeps retrying while the server is unreachable (default 15 s). */
  retryLimitMs?: number;
  /** Pool size (default 3). */
  poolMax?: number;
  /** Told about failures that happen in the background (an idle connection dropped by the server). */
  onWarning?: (message: string) => void;
}

/** Tables live in this schema, apart from anyone else's in a shared database. */
const PG_SCHEMA = 'cc_dm';

/**
 * An idle pooled connection closes after a minute: longer than the heartbeat (10 s), so an idle
 * session keeps one warm connection instead of logging in again (SCRAM costs milliseconds of
 * CPU) at every beat; extra connections opened in a burst go away.
 */
const IDLE_CLOSE_MS = 60_000;

/** pg_advisory_xact_lock keys, in ASCII so they are recognisable in pg_locks: migrations "ccdm". */
const MIGRATION_LOCK = 0x6363646d;
/** Claims "ccdn", held until their transaction ends. */
const CLAIM_LOCK = 0x6363646e;
/** Permission requests of one requester are created one at a time ("ccdp"). */
const PERMISSION_LOCK = 0x63636470;

/** Each word's lexemes (as PostgreSQL's parser splits the text itself), as prefixes, all required. */
const DIALECT: HistoryDialect = {
  param: (args, v) => {
    args.push(v);
    return `$${args.length}`;
  },
  limit: (args, n) => DIALECT.param(args, n),
  table: (name) => `${PG_SCHEMA}.${name}`,
  indexedBy: () => '',
  seqIn: (subquery) => `m.seq = ANY (ARRAY(${subquery}))`,
  matches: (p) => `to_tsvector('simple'::regconfig, m.content) @@ (SELECT to_tsquery('simple'::regconfig,
    string_agg(quote_literal(replace(lexeme, E'\\\\', '')) || ':*', ' & ')) FROM unnest(to_tsvector('simple'::regconfig, ${p}::text)))`,
  queryText: (words) => words,
};

type Q = pg.PoolClient;
/**
 * One message as one statement. The NOTIFY (payload: each recipient's name key) is sent by
 * PostgreSQL at commit: a ring never precedes the row it announces, and a sender dying right
 * after its commit still rings.
 */
function insertStatement({ message: m, recipients, reply }: NewMail): { sql: string; args: unknown[] } {
  const args: unknown[] = [
    m.id,
    m.kind,
    m.from_name,
    m.from_key,
    m.from_session,
    m.sender_kind,
    m.to_name,
    m.project,
    m.content,
    m.priority,
    m.message_type,
    m.thread_id,
    m.sent_at,
    m.expires_at,
    recipients.map((r) => r.key),
    recipients.map((r) => r.display),
  ];
  let replied = '';
  if (reply) {
    args.push(reply.recipientKey, reply.senderKey, reply.thread_id, reply.since ?? 0);
    replied = `, replied AS (UPDATE cc_dm.deliveries SET state = 'replied', replied_at = $13
        WHERE recipient_key = $17 AND state = 'delivered' AND queued_at >= $20 AND message_seq IN
          (SELECT seq FROM cc_dm.messages WHERE from_key = $18 AND ($19::text IS NULL OR thread_id = $19)))`;
  }
  const sql = `WITH msg AS (INSERT INTO cc_dm.messages (id, kind, from_name, from_key, from_session, sender_kind, to_name, project,
        content, priority, message_type, thread_id, sent_at, expires_at)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING seq),
    dels AS (INSERT INTO cc_dm.deliveries (message_seq, recipient_key, recipient_name, state, queued_at)
      SELECT msg.seq, r.k, r.n, 'queued', $13 FROM msg, unnest($15::text[], $16::text[]) AS r(k, n)),
    -- Mail queued for a name nobody has held yet makes that name a mailbox.
    mailbox AS (INSERT INTO cc_dm.names (key, display, created_at)
      SELECT r.k, r.n, $13 FROM unnest($15::text[], $16::text[]) AS r(k, n) ON CONFLICT (key) DO NOTHING)${replied}
    SELECT seq, (SELECT count(*) FROM (SELECT pg_notify('${RING_CHANNEL}', k) FROM unnest($15::text[]) AS k) AS n) AS rung FROM msg`;
  return { sql, args };
}

export class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  readonly capabilities = { multiHost: true, ring: 'notify', localFile: false } as const;
  readonly where: string;
  private readonly retryLimitMs: number;
  private closed = false;
  /**
   * The database's clock minus this machine's (ms). Heartbeats are stored on the database's
   * clock and read back on this machine's, so a host whose clock is off by a minute is still
   * judged by how long ago it really beat, not by the two machines' disagreement.
   */
  private clockOffsetMs = 0;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly opts: PostgresOptions,
  ) {
    this.where = describeUrl(opts.url);
    this.retryLimitMs = opts.retryLimitMs ?? 15_000;
  }

  /** Connects, migrates (safely when many servers start at once) and checks the schema version. */
  static async open(opts: PostgresOptions): Promise<PostgresStore> {
    const pool = new pg.Pool({
      ...clientConfig(opts.url),
      max: opts.poolMax ?? 3,
      idleTimeoutMillis: IDLE_CLOSE_MS,
      allowExitOnIdle: true,
    });
    const store = new PostgresStore(pool, opts);
    // An idle connection dropped by the server (restart) emits here; without a listener it would
    // crash the process. The pool discards it and the next query opens a new one; say so.
    pool.on('error', (e) =>
      opts.onWarning?.(
        `an idle PostgreSQL connection to ${store.where} was dropped (${translate(store.where, e).message}); the next query opens a new one`,
      ),
    );
    try {
      await migrate(store.migrationTarget());
      await store.measureClock();
    } catch (e) {
      await pool.end().catch(() => {});
      throw translate(store.where, e);
    }
    return store;
  }

  /**
   * Runs fn on one pooled connection (inside BEGIN/COMMIT when `tx`), retrying with backoff while
   * the server is unreachable or a conflict (deadlock, serialization) aborted it.
   */
  private async run<T>(tx: boolean, fn: (c: Q, attempt: number) => Promise<T>): Promise<T> {
    if (this.closed) throw new CcDmError('E_STORE_DOWN', `the store ${this.where} is closed.`);
    const started = Date.now();
    let wait = 50;
    for (let attempt = 0; ; attempt++) {
      let failure: unknown;
      let client: Q | undefined;
      let broken = false;
      // A checked-out client has no error listener of the pool's: a connection dropped between
      // two statements (server restart) would be an unhandled 'error' event, i.e. a crash.
      const onError = () => {
        broken = true;
      };
      try {
        client = await this.pool.connect();
        client.on('error', onError);
        if (!tx) return await fn(client, attempt);
        await client.query('BEGIN');
        try {
          const r = await fn(client, attempt);
          await client.query('COMMIT');
          return r;
        } catch (e) {
          await client.query('ROLLBACK').catch(() => {
            broken = true;
          });
          throw e;
        }
      } catch (e) {
        failure = e;
        if (isRetryable(e)) broken = true;
      } finally {
        // Released before any backoff: a broken connection is discarded, a good one goes back.
        client?.off('error', onError);
        client?.release(broken);
      }
      if (!isRetryable(failure) || this.closed) throw translate(this.where, failure);
      if (Date.now() - started >= this.retryLimitMs) throw downError(this.where, failure, Date.now() - started);
      await sleep(wait + Math.random() * wait);
      wait = Math.min(wait * 2, 1_000);
    }
  }

  private write<T>(fn: (c: Q, attempt: number) => Promise<T>): Promise<T> {
    return this.run(true, fn);
  }

  private read<T>(fn: (c: Q) => Promise<T>): Promise<T> {
    return this.run(false, fn);
  }

  /** One statement on its own: atomic without BEGIN/COMMIT, so one round trip instead of three. */
  private exec(sql: string, args: unknown[]): Promise<pg.QueryResult> {
    return this.run(false, (c) => c.query(sql, args));
  }

  private migrationTarget(): MigrationTarget {
    const versionSql = `SELECT coalesce(max(version), 0) AS v FROM ${PG_SCHEMA}.cc_dm_migrations`;
    return {
      dialect: 'postgres',
      where: this.where,
      peekVersion: async () => {
        try {
          return (await this.pool.query(versionSql)).rows[0].v as number;
        } catch (e) {
          const code = (e as { code?: string }).code;
          if (code === '42P01' || code === '3F000') return 0; // no such table / schema yet
          throw e;
        }
      },
      // One attempt: a server that is down at start is the caller's to retry (with its own backoff).
      locked: async (fn) => {
        const client = await this.pool.connect();
        const onError = () => {};
        client.on('error', onError);
        let ok = false;
        try {
          await client.query('BEGIN');
          await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
          // CREATE SCHEMA needs the CREATE privilege even when the schema exists: ask first.
          const has = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [PG_SCHEMA]);
          if (has.rowCount === 0) await client.query(`CREATE SCHEMA ${PG_SCHEMA}`);
          await client.query(`SET LOCAL search_path TO ${PG_SCHEMA}`);
          await fn({
            version: async () => {
              await client.query('CREATE TABLE IF NOT EXISTS cc_dm_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)');
              return (await client.query(versionSql)).rows[0].v as number;
            },
            // Its row first: of two processes racing past the lock (none can), the loser's
            // unique violation would mean "already done", as in graphile-worker.
            apply: async (version, sql) => {
              await client.query('INSERT INTO cc_dm_migrations (version, applied_at) VALUES ($1, $2)', [version, Date.now()]);
              await client.query(sql);
            },
          });
          await client.query('COMMIT');
          ok = true;
        } finally {
          if (!ok) await client.query('ROLLBACK').catch(() => {});
          client.off('error', onError);
          client.release(!ok);
        }
      },
    };
  }

  /** Reads the database's clock, halfway through the round trip. */
  private async measureClock(): Promise<void> {
    const t0 = Date.now();
    const db = (await this.pool.query('SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS now')).rows[0].now as number;
    const t1 = Date.now();
    this.clockOffsetMs = Math.round(db - (t0 + t1) / 2);
  }

  /** The heartbeat as this machine's clock would have read it. */
  private local = (row: SessionRow | undefined): SessionRow | undefined =>
    row && { ...row, heartbeat_at: row.heartbeat_at - this.clockOffsetMs };

  async schemaVersion(): Promise<number> {
    return this.read(async (c) => (await c.query(`SELECT coalesce(max(version), 0) AS v FROM ${PG_SCHEMA}.cc_dm_migrations`)).rows[0].v);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end().catch(() => {});
  }

  /** No cheap counter of other connections' commits: the doorbell's rings tell an idle poll instead. */
  async changeCounter(): Promise<undefined> {
    return undefined;
  }

  listen(): ListenConnection {
    return new PgListenConnection(this.opts.url);
  }

  // --- sessions and names -------------------------------------------------------------------

  private steps(c: Q): AsyncClaimSteps {
    return {
      insertSession: async (s) => {
        // ON CONFLICT: a retry after an ambiguous commit finds its own row already there.
        await c.query(
          `INSERT INTO cc_dm.sessions (id, role, project, cwd, host, pid, ppid, pid_start, ppid_start, can_push, client,
            doorbell, started_at, last_active_at, heartbeat_at, machine, heartbeat_expiry_ms, agent, agent_pid, path,
            agent_session, wake)
          VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)
          ON CONFLICT (id) DO NOTHING`,
          [
            s.id,
            s.role,
            s.project,
            s.cwd,
            s.host,
            s.pid,
            s.ppid,
            s.pid_start,
            s.ppid_start,
            s.can_push,
            s.client,
            s.doorbell,
            s.started_at,
            s.last_active_at,
            s.heartbeat_at + this.clockOffsetMs,
            s.machine,
            s.heartbeat_expiry_ms,
            s.agent,
            s.agent_pid,
            s.path,
            s.agent_session ?? null,
            s.wake ?? null,
          ],
        );
      },
      candidate: async (key, exceptSession) => {
        const r = (
          await c.query(
            `SELECT (SELECT to_jsonb(n) FROM cc_dm.names n WHERE n.key = $1) AS name,
            (SELECT to_jsonb(s) FROM cc_dm.sessions s WHERE s.name_key = $1 AND s.ended_at IS NULL AND s.id != $2) AS holder,
            (SELECT count(*) FROM cc_dm.deliveries WHERE recipient_key = $1 AND state = 'queued') AS queued`,
            [key, exceptSession],
          )
        ).rows[0];
        return { name: r.name ?? undefined, holder: this.local(r.holder ?? undefined), queued: r.queued as number };
      },
      endSession: async (id, reason, at) => {
        await c.query('UPDATE cc_dm.sessions SET ended_at = $1, end_reason = $2 WHERE id = $3 AND ended_at IS NULL', [at, reason, id]);
      },
      take: async (t) => {
        if (t.identity) {
          await c.query('UPDATE cc_dm.sessions SET role = $1, project = $2 WHERE id = $3', [
            t.identity.role,
            t.identity.project,
            t.sessionId,
          ]);
        }
        await c.query(
          `UPDATE cc_dm.sessions SET name = $1, name_key = $2, name_source = $3, wanted_name = $4, last_active_at = $5,
            history_since = $7 WHERE id = $6`,
          [t.display, t.key, t.source, t.wanted, t.at, t.sessionId, t.historySince],
        );
        await c.query(
          `INSERT INTO cc_dm.names (key, display, project, role, created_at, last_held_at)
            SELECT $1, $2, project, role, $3, $3 FROM cc_dm.sessions WHERE id = $4
          ON CONFLICT (key) DO UPDATE SET display = excluded.display, project = excluded.project, role = excluded.role,
            released_to = NULL, last_held_at = excluded.last_held_at`,
          [t.key, t.display, t.at, t.sessionId],
        );
        return this.local((await c.query('SELECT * FROM cc_dm.sessions WHERE id = $1', [t.sessionId])).rows[0])!;
      },
      release: async (t) => {
        await c.query('UPDATE cc_dm.names SET released_to = $1 WHERE key = $2 OR lower(released_to) = $2', [t.toDisplay, t.fromKey]);
        // A released name no message ever named, and nobody reserved, leaves nothing behind.
        if (t.collect)
          await c.query(
            `DELETE FROM cc_dm.names WHERE key = $1 AND NOT reserved
            AND NOT EXISTS (SELECT 1 FROM cc_dm.messages WHERE from_key = $1)
            AND NOT EXISTS (SELECT 1 FROM cc_dm.deliveries WHERE recipient_key = $1)
            AND NOT EXISTS (SELECT 1 FROM cc_dm.sessions WHERE name_key = $1 AND ended_at IS NULL)`,
            [t.fromKey],
          );
        // As SQLite's UPDATE OR IGNORE: a message already addressed to both names stays where it is.
        await c.query(
          `UPDATE cc_dm.deliveries d SET recipient_key = $1, recipient_name = $2 WHERE d.recipient_key = $3 AND d.state = 'queued'
            AND NOT EXISTS (SELECT 1 FROM cc_dm.deliveries x WHERE x.message_seq = d.message_seq AND x.recipient_key = $1)`,
          [t.toKey, t.toDisplay, t.fromKey],
        );
        // The mail that followed waits under the new name: ring it (sent at commit).
        await c.query(`SELECT pg_notify('${RING_CHANNEL}', $1)`, [t.toKey]);
      },
    };
  }

  claim<R>(plan: () => ClaimPlan<R>): Promise<R> {
    return this.write(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [CLAIM_LOCK]);
      return runPlanAsync(plan(), this.steps(c));
    });
  }

  async endSession(id: string, reason: string, at: number): Promise<void> {
    await this.exec('UPDATE cc_dm.sessions SET ended_at = $1, end_reason = $2 WHERE id = $3 AND ended_at IS NULL', [at, reason, id]);
  }

  updateSession(id: string, patch: SessionPatch): Promise<void> {
    const cols = Object.keys(patch).filter((c) => SESSION_PATCH_COLUMNS.has(c));
    if (cols.length === 0) return Promise.resolve();
    const values = cols.map((c) =>
      c === 'heartbeat_at' ? patch.heartbeat_at! + this.clockOffsetMs : (patch as Record<string, unknown>)[c],
    );
    const update = `UPDATE cc_dm.sessions SET ${cols.map((col, i) => `${col} = $${i + 1}`).join(', ')} WHERE id = $${cols.length + 1}`;
    if (!('role' in patch) && !('project' in patch)) return this.exec(update, [...values, id]).then(() => undefined);
    return this.write(async (c) => {
      await c.query(update, [...values, id]);
      await c.query(
        `UPDATE cc_dm.names SET role = s.role, project = s.project FROM (SELECT name_key, role, project FROM cc_dm.sessions WHERE id = $1) s
        WHERE names.key = s.name_key`,
        [id],
      );
    });
  }

  getSession(id: string): Promise<SessionRow | undefined> {
    return this.read(async (c) => this.local((await c.query('SELECT * FROM cc_dm.sessions WHERE id = $1', [id])).rows[0]));
  }

  openSessions(): Promise<SessionRow[]> {
    return this.read(async (c) =>
      (await c.query('SELECT * FROM cc_dm.sessions WHERE ended_at IS NULL ORDER BY started_at')).rows.map((r) => this.local(r)!),
    );
  }

  holderOf(key: string): Promise<SessionRow | undefined> {
    return this.read(async (c) =>
      this.local((await c.query('SELECT * FROM cc_dm.sessions WHERE name_key = $1 AND ended_at IS NULL', [key])).rows[0]),
    );
  }

  lookup(key: string): Promise<{ name?: NameRow; holder?: SessionRow }> {
    // One round trip for both rows (as JSON: its numbers are the BIGINT columns as numbers).
    return this.read(async (c) => {
      const r = (
        await c.query(
          `SELECT (SELECT to_jsonb(n) FROM cc_dm.names n WHERE n.key = $1) AS name,
          (SELECT to_jsonb(s) FROM cc_dm.sessions s WHERE s.name_key = $1 AND s.ended_at IS NULL) AS holder`,
          [key],
        )
      ).rows[0];
      return { name: r.name ?? undefined, holder: this.local(r.holder ?? undefined) };
    });
  }

  listNames(): Promise<NameRow[]> {
    return this.read(async (c) => (await c.query('SELECT * FROM cc_dm.names ORDER BY key COLLATE "C"')).rows);
  }

  async reserveName(display: string, key: string, reserved: boolean, at: number): Promise<void> {
    await this.exec(
      `INSERT INTO cc_dm.names (key, display, reserved, created_at) VALUES ($1, $2, $3, $4)
      ON CONFLICT (key) DO UPDATE SET reserved = excluded.reserved`,
      [key, display, reserved, at],
    );
  }

  // --- messages -----------------------------------------------------------------------------

  /**
   * Each message, its delivery rows, the reply mark and the recipients' doorbells are one
   * statement (data-modifying CTEs are atomic): one round trip per message instead of six.
   */
  insertMessages(mail: readonly NewMail[]): Promise<MessageRow[]> {
    const statements = mail.map(insertStatement);
    // One message is one statement, committed on its own; several are one transaction.
    return this.run(mail.length > 1, async (c, attempt) => {
      if (attempt > 0) {
        // A retry whose first attempt did commit (the connection broke before the answer came):
        // already stored, all of them or none (one transaction).
        const done = (await c.query('SELECT id, seq FROM cc_dm.messages WHERE id = ANY($1::text[])', [mail.map((x) => x.message.id)])).rows;
        if (done.length) {
          const seqOf = new Map(done.map((r) => [r.id as string, r.seq as number]));
          return mail.map(({ message: m }) => ({ ...m, seq: seqOf.get(m.id)! }));
        }
      }
      const rows: MessageRow[] = [];
      for (let i = 0; i < mail.length; i++) {
        const { sql, args } = statements[i]!;
        rows.push({ ...mail[i]!.message, seq: (await c.query(sql, args)).rows[0].seq as number });
      }
      return rows;
    });
  }

  pendingFor(recipientKey: string, sessionId: string, limit: number, now: number): Promise<PendingDelivery[]> {
    return this.read(async (c) =>
      (
        await c.query(
          `SELECT ${MSG_COLS}, ${DEL_COLS} FROM cc_dm.deliveries d JOIN cc_dm.messages m ON m.seq = d.message_seq
        WHERE d.recipient_key = $1 AND d.state = 'queued' AND m.expires_at > $2
          AND EXISTS (SELECT 1 FROM cc_dm.sessions s WHERE s.id = $4 AND s.ended_at IS NULL) ORDER BY d.message_seq LIMIT $3`,
          [recipientKey, now, limit, sessionId],
        )
      ).rows.map(splitRow),
    );
  }

  countPending(recipientKey: string, now: number): Promise<number> {
    return this.read(
      async (c) =>
        (
          await c.query(
            `SELECT count(*) AS c FROM cc_dm.deliveries d JOIN cc_dm.messages m ON m.seq = d.message_seq
        WHERE d.recipient_key = $1 AND d.state = 'queued' AND m.expires_at > $2`,
            [recipientKey, now],
          )
        ).rows[0].c,
    );
  }

  pendingCounts(now: number): Promise<Map<string, number>> {
    return this.read(
      async (c) =>
        new Map(
          (
            await c.query(
              `SELECT d.recipient_key AS k, count(*)::int AS c FROM cc_dm.deliveries d
        JOIN cc_dm.messages m ON m.seq = d.message_seq WHERE d.state = 'queued' AND m.expires_at > $1 GROUP BY d.recipient_key`,
              [now],
            )
          ).rows.map((r) => [r.k as string, r.c as number]),
        ),
    );
  }

  async markDelivered(
    messageSeq: number,
    recipientKey: string,
    sessionId: string,
    via: DeliveredVia,
    at: number,
    claim?: HookClaim,
  ): Promise<boolean> {
    return (
      (
        await this.exec(
          `UPDATE cc_dm.deliveries SET state = 'delivered', delivered_at = $1, delivered_via = $2, delivered_session = $3, claim_code = $4,
            claim_offset = $5 WHERE message_seq = $6 AND recipient_key = $7 AND state = 'queued'
            AND EXISTS (SELECT 1 FROM cc_dm.sessions s WHERE s.id = $3 AND s.ended_at IS NULL)`,
          [at, via, sessionId, claim?.code ?? null, claim?.offset ?? null, messageSeq, recipientKey],
        )
      ).rowCount === 1
    );
  }

  unconfirmed(recipientKey: string): Promise<PendingDelivery[]> {
    return this.read(async (c) =>
      (
        await c.query(
          `SELECT ${MSG_COLS}, ${DEL_COLS} FROM cc_dm.deliveries d JOIN cc_dm.messages m ON m.seq = d.message_seq
        WHERE d.recipient_key = $1 AND d.delivered_via = 'hook' AND d.confirmed_at IS NULL AND d.state = 'delivered' ORDER BY d.message_seq`,
          [recipientKey],
        )
      ).rows.map(splitRow),
    );
  }

  async confirm(messageSeq: number, recipientKey: string, at: number): Promise<void> {
    await this.exec(
      'UPDATE cc_dm.deliveries SET confirmed_at = $1 WHERE message_seq = $2 AND recipient_key = $3 AND confirmed_at IS NULL',
      [at, messageSeq, recipientKey],
    );
  }

  async requeue(messageSeq: number, recipientKey: string): Promise<boolean> {
    // The mail waits again: ring its mailbox (sent at commit).
    const r = await this.exec(
      `WITH q AS (UPDATE cc_dm.deliveries SET state = 'queued', delivered_at = NULL, delivered_via = NULL, delivered_session = NULL,
          claim_code = NULL, claim_offset = NULL
        WHERE message_seq = $1 AND recipient_key = $2 AND state = 'delivered' AND confirmed_at IS NULL RETURNING recipient_key)
      SELECT pg_notify('${RING_CHANNEL}', recipient_key) FROM q`,
      [messageSeq, recipientKey],
    );
    return r.rowCount === 1;
  }

  async watchIdle(targetKey: string, watcherKey: string, watcherName: string, at: number): Promise<void> {
    await this.exec(
      `INSERT INTO cc_dm.idle_watches (target_key, watcher_key, watcher_name, created_at) VALUES ($1, $2, $3, $4)
      ON CONFLICT (target_key, watcher_key) DO UPDATE SET watcher_name = excluded.watcher_name, created_at = excluded.created_at`,
      [targetKey, watcherKey, watcherName, at],
    );
  }

  takeIdleWatches(targetKey: string): Promise<{ watcher_key: string; watcher_name: string }[]> {
    return this.read(
      async (c) =>
        (await c.query('DELETE FROM cc_dm.idle_watches WHERE target_key = $1 RETURNING watcher_key, watcher_name', [targetKey])).rows,
    );
  }

  async expireDue(now: number): Promise<number> {
    return (
      (
        await this.exec(
          `UPDATE cc_dm.deliveries SET state = 'expired', expired_at = $1, expire_reason = $2
        WHERE state = 'queued' AND message_seq IN (SELECT seq FROM cc_dm.messages WHERE expires_at <= $1)`,
          [now, EXPIRE_REASON],
        )
      ).rowCount ?? 0
    );
  }

  private async deliveriesOf(c: Q, seqs: number[]): Promise<Map<number, DeliveryRow[]>> {
    if (seqs.length === 0) return new Map();
    const rows = (
      await c.query(
        `SELECT ${DEL_COLS} FROM cc_dm.deliveries d WHERE d.message_seq = ANY($1::bigint[]) ORDER BY d.recipient_key COLLATE "C"`,
        [seqs],
      )
    ).rows as DeliveryRow[];
    return bySeq(rows);
  }

  trace(messageId: string): Promise<Trace | undefined> {
    return this.read(async (c) => {
      const m = (await c.query(`SELECT ${MSG_COLS} FROM cc_dm.messages m WHERE m.id = $1`, [messageId])).rows[0] as MessageRow | undefined;
      if (!m) return undefined;
      return { message: m, deliveries: (await this.deliveriesOf(c, [m.seq])).get(m.seq) ?? [] };
    });
  }

  history(f: HistoryFilter): Promise<Trace[]> {
    const q = historyQuery(f, DIALECT);
    return this.read(async (c) => {
      const msgs = (await c.query(q.sql, q.args)).rows as MessageRow[];
      if (q.newestFirst) msgs.reverse();
      const dels = await this.deliveriesOf(
        c,
        msgs.map((m) => m.seq),
      );
      return msgs.map((m) => ({ message: m, deliveries: dels.get(m.seq) ?? [] }));
    });
  }

  hasWritten(fromKey: string, toKey: string, since?: number | null): Promise<boolean> {
    return this.read(
      async (c) =>
        ((
          await c.query(
            `SELECT 1 FROM cc_dm.messages m JOIN cc_dm.deliveries d ON d.message_seq = m.seq
        WHERE m.from_key = $1 AND d.recipient_key = $2 AND m.sent_at >= $3 LIMIT 1`,
            [fromKey, toKey, since ?? 0],
          )
        ).rowCount ?? 0) > 0,
    );
  }

  queuedBy(sessionId: string, now: number): Promise<{ count: number; bytes: number }> {
    return this.read(async (c) => {
      const r = (
        await c.query(
          `SELECT count(*)::int AS count, coalesce(sum(octet_length(m.content)), 0)::bigint AS bytes
        FROM cc_dm.deliveries d JOIN cc_dm.messages m ON m.seq = d.message_seq
        WHERE d.state = 'queued' AND m.expires_at > $1 AND m.from_session = $2`,
          [now, sessionId],
        )
      ).rows[0];
      return { count: r.count as number, bytes: r.bytes as number };
    });
  }

  size(now: number): Promise<{ bytes: number; queued: number; queuedBytes: number }> {
    return this.read(async (c) => {
      const r = (
        await c.query(
          `SELECT (SELECT coalesce(sum(pg_total_relation_size(t.oid)), 0) FROM pg_class t
            JOIN pg_namespace n ON n.oid = t.relnamespace WHERE n.nspname = '${PG_SCHEMA}' AND t.relkind = 'r')::bigint AS bytes,
          q.n, q.b FROM (SELECT count(*)::int AS n, coalesce(sum(octet_length(m.content)), 0)::bigint AS b
            FROM cc_dm.deliveries d JOIN cc_dm.messages m ON m.seq = d.message_seq
            WHERE d.state = 'queued' AND m.expires_at > $1) q`,
          [now],
        )
      ).rows[0];
      return { bytes: r.bytes as number, queued: r.n as number, queuedBytes: r.b as number };
    });
  }

  prune(before: number): Promise<{ messages: number; sessions: number }> {
    return this.write(async (c) => {
      // Mail still waiting is kept whatever its age: retention never drops what was not yet delivered.
      const messages =
        (
          await c.query(
            `DELETE FROM cc_dm.messages WHERE sent_at < $1 AND NOT EXISTS
          (SELECT 1 FROM cc_dm.deliveries d WHERE d.message_seq = messages.seq AND d.state = 'queued')`,
            [before],
          )
        ).rowCount ?? 0;
      const sessions = (await c.query('DELETE FROM cc_dm.sessions WHERE ended_at IS NOT NULL AND ended_at < $1', [before])).rowCount ?? 0;
      await c.query(`DELETE FROM cc_dm.permissions WHERE created_at < $1 AND state != 'pending'`, [before]);
      // Names given up by a rename, past the retention, with nothing waiting and nobody holding them.
      await c.query(
        `DELETE FROM cc_dm.names n WHERE n.released_to IS NOT NULL AND NOT n.reserved AND coalesce(n.last_held_at, n.created_at) < $1
          AND NOT EXISTS (SELECT 1 FROM cc_dm.deliveries d WHERE d.recipient_key = n.key AND d.state = 'queued')
          AND NOT EXISTS (SELECT 1 FROM cc_dm.sessions s WHERE s.name_key = n.key AND s.ended_at IS NULL)`,
        [before],
      );
      return { messages, sessions };
    });
  }

  // --- permission relay ---------------------------------------------------------------------

  createPermission(p: NewPermission): Promise<PermissionRow> {
    return this.write(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [PERMISSION_LOCK, p.requester_key]);
      // A pending request with the same id from an earlier incarnation is moot: its dialog is gone.
      await c.query(`UPDATE cc_dm.permissions SET state = 'expired' WHERE requester_key = $1 AND request_id = $2 AND state = 'pending'`, [
        p.requester_key,
        p.request_id,
      ]);
      return (
        await c.query(
          `INSERT INTO cc_dm.permissions (request_id, requester_key, requester_name, requester_session, approver_key,
          tool_name, description, input_preview, state, created_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9) RETURNING *`,
          [
            p.request_id,
            p.requester_key,
            p.requester_name,
            p.requester_session,
            p.approver_key,
            p.tool_name,
            p.description,
            p.input_preview,
            p.created_at,
          ],
        )
      ).rows[0] as PermissionRow;
    });
  }

  pendingPermission(requesterKey: string, requestId: string): Promise<PermissionRow | undefined> {
    return this.read(
      async (c) =>
        (
          await c.query(`SELECT * FROM cc_dm.permissions WHERE requester_key = $1 AND request_id = $2 AND state = 'pending'`, [
            requesterKey,
            requestId,
          ])
        ).rows[0],
    );
  }

  /** Decides once, and rings the requester's session (at commit) so its verdict is pushed at once. */
  async decidePermission(id: number, behavior: Behavior, by: string, kind: SenderKind, at: number): Promise<boolean> {
    return (
      (
        await this.exec(
          `WITH d AS (UPDATE cc_dm.permissions SET state = $1, decided_by = $2, decided_kind = $3, decided_at = $4
        WHERE id = $5 AND state = 'pending' RETURNING requester_session)
      SELECT pg_notify('${RING_CHANNEL}', requester_session) FROM d`,
          [behavior, by, kind, at, id],
        )
      ).rowCount === 1
    );
  }

  verdictsToNotify(requesterSession: string): Promise<PermissionRow[]> {
    return this.read(
      async (c) =>
        (
          await c.query(
            `SELECT * FROM cc_dm.permissions WHERE requester_session = $1 AND state IN ('allow', 'deny')
        AND notified_at IS NULL ORDER BY id`,
            [requesterSession],
          )
        ).rows,
    );
  }

  async markVerdictNotified(id: number, at: number): Promise<void> {
    await this.exec('UPDATE cc_dm.permissions SET notified_at = $1 WHERE id = $2', [at, id]);
  }

  listPermissions(pendingOnly: boolean): Promise<PermissionRow[]> {
    return this.read(
      async (c) =>
        (await c.query(`SELECT * FROM cc_dm.permissions ${pendingOnly ? `WHERE state = 'pending'` : ''} ORDER BY id DESC LIMIT 500`)).rows,
    );
  }
}
