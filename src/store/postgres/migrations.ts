/**
 * Numbered PostgreSQL migrations: the SQLite schema with BIGINT epoch-ms times, BOOLEAN flags,
 * identity sequences, and a GIN index for full-text search. Everything lives in the schema
 * `cc_dm`, so a shared database keeps cc-dm's tables apart from anyone else's.
 *
 * Each migration runs in one transaction together with its row in cc_dm_migrations, after
 * taking a transaction-scoped advisory lock: twenty servers starting at once queue on the lock,
 * the first migrates, the others find the work done. DDL is transactional in PostgreSQL, so a
 * migration that fails leaves nothing half-applied.
 */
export const PG_SCHEMA = 'cc_dm';

/** pg_advisory_xact_lock key for migrations: "ccdm" in ASCII, so it is recognisable in pg_locks. */
export const MIGRATION_LOCK = 0x6363646d;

export const PG_MIGRATIONS: readonly { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `
CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  name TEXT, name_key TEXT, name_source TEXT, wanted_name TEXT,
  role TEXT, project TEXT, cwd TEXT NOT NULL, host TEXT NOT NULL,
  pid INTEGER NOT NULL, ppid INTEGER NOT NULL, pid_start TEXT, ppid_start TEXT,
  can_push BOOLEAN NOT NULL DEFAULT false, client TEXT, doorbell TEXT,
  started_at BIGINT NOT NULL, last_active_at BIGINT NOT NULL, heartbeat_at BIGINT NOT NULL,
  ended_at BIGINT, end_reason TEXT
);
-- One live holder per name: the index is the arbiter when two processes race.
CREATE UNIQUE INDEX sessions_one_holder ON sessions(name_key) WHERE ended_at IS NULL AND name_key IS NOT NULL;
CREATE INDEX sessions_open ON sessions(ended_at);

CREATE TABLE names (
  key TEXT PRIMARY KEY, display TEXT NOT NULL, project TEXT, role TEXT,
  reserved BOOLEAN NOT NULL DEFAULT false, released_to TEXT,
  created_at BIGINT NOT NULL, last_held_at BIGINT
);

CREATE TABLE messages (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
  from_name TEXT NOT NULL, from_key TEXT NOT NULL, from_session TEXT, sender_kind TEXT NOT NULL,
  to_name TEXT, project TEXT, content TEXT NOT NULL,
  priority TEXT, message_type TEXT, thread_id TEXT,
  sent_at BIGINT NOT NULL, expires_at BIGINT NOT NULL
);
CREATE INDEX messages_from ON messages(from_key, seq);
CREATE INDEX messages_thread ON messages(thread_id) WHERE thread_id IS NOT NULL;
CREATE INDEX messages_sent ON messages(sent_at);
-- Full-text search: the 'simple' configuration (no stemming, no stop words), as SQLite's FTS5.
CREATE INDEX messages_fts ON messages USING gin (to_tsvector('simple'::regconfig, content));

CREATE TABLE deliveries (
  message_seq BIGINT NOT NULL REFERENCES messages(seq) ON DELETE CASCADE,
  recipient_key TEXT NOT NULL, recipient_name TEXT NOT NULL,
  state TEXT NOT NULL, queued_at BIGINT NOT NULL,
  delivered_at BIGINT, delivered_via TEXT, delivered_session TEXT,
  replied_at BIGINT, expired_at BIGINT, expire_reason TEXT,
  PRIMARY KEY (message_seq, recipient_key)
);
CREATE INDEX deliveries_queued ON deliveries(recipient_key, message_seq) WHERE state = 'queued';
CREATE INDEX deliveries_recipient ON deliveries(recipient_key, message_seq);

CREATE TABLE permissions (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  request_id TEXT NOT NULL, requester_key TEXT NOT NULL, requester_name TEXT NOT NULL,
  requester_session TEXT NOT NULL, approver_key TEXT,
  tool_name TEXT NOT NULL, description TEXT NOT NULL, input_preview TEXT NOT NULL,
  state TEXT NOT NULL, created_at BIGINT NOT NULL,
  decided_at BIGINT, decided_by TEXT, decided_kind TEXT, notified_at BIGINT
);
-- Claude Code's 5-letter ids repeat across sessions and runs: key by requester and id.
CREATE UNIQUE INDEX permissions_pending ON permissions(requester_key, request_id) WHERE state = 'pending';
`,
  },
];
