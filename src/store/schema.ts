/**
 * The schema, once: an ordered list of migrations, each with its SQLite and its PostgreSQL text.
 * Both dialects describe the same tables, columns and indexes (a test compares them); they
 * differ only in types (INTEGER epoch ms vs BIGINT, 0/1 vs BOOLEAN, AUTOINCREMENT vs identity)
 * and in full-text search (an FTS5 table filled in batches vs a GIN expression index).
 *
 * PostgreSQL keeps its tables in the schema `cc_dm` (migrations run with it as search_path), so
 * a shared database keeps cc-dm's tables apart from anyone else's.
 *
 * Append only: a released migration is never edited; a change is a new version.
 */
export interface Migration {
  version: number;
  sqlite: string;
  postgres: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sqlite: `
CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  name TEXT, name_key TEXT, name_source TEXT, wanted_name TEXT,
  role TEXT, project TEXT, cwd TEXT NOT NULL, host TEXT NOT NULL,
  pid INTEGER NOT NULL, ppid INTEGER NOT NULL, pid_start TEXT, ppid_start TEXT,
  can_push INTEGER NOT NULL DEFAULT 0, client TEXT, doorbell TEXT,
  started_at INTEGER NOT NULL, last_active_at INTEGER NOT NULL, heartbeat_at INTEGER NOT NULL,
  ended_at INTEGER, end_reason TEXT
);
-- One live holder per name: the index is the arbiter when two processes race.
CREATE UNIQUE INDEX sessions_one_holder ON sessions(name_key) WHERE ended_at IS NULL AND name_key IS NOT NULL;
CREATE INDEX sessions_open ON sessions(ended_at);

CREATE TABLE names (
  key TEXT PRIMARY KEY, display TEXT NOT NULL, project TEXT, role TEXT,
  reserved INTEGER NOT NULL DEFAULT 0, released_to TEXT,
  created_at INTEGER NOT NULL, last_held_at INTEGER
);

CREATE TABLE messages (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
  from_name TEXT NOT NULL, from_key TEXT NOT NULL, from_session TEXT, sender_kind TEXT NOT NULL,
  to_name TEXT, project TEXT, content TEXT NOT NULL,
  priority TEXT, message_type TEXT, thread_id TEXT,
  sent_at INTEGER NOT NULL, expires_at INTEGER NOT NULL
);
CREATE INDEX messages_from ON messages(from_key, seq);
CREATE INDEX messages_thread ON messages(thread_id) WHERE thread_id IS NOT NULL;
CREATE INDEX messages_sent ON messages(sent_at);

CREATE TABLE deliveries (
  message_seq INTEGER NOT NULL REFERENCES messages(seq) ON DELETE CASCADE,
  recipient_key TEXT NOT NULL, recipient_name TEXT NOT NULL,
  state TEXT NOT NULL, queued_at INTEGER NOT NULL,
  delivered_at INTEGER, delivered_via TEXT, delivered_session TEXT,
  replied_at INTEGER, expired_at INTEGER, expire_reason TEXT,
  PRIMARY KEY (message_seq, recipient_key)
) WITHOUT ROWID;
CREATE INDEX deliveries_queued ON deliveries(recipient_key, message_seq) WHERE state = 'queued';
CREATE INDEX deliveries_recipient ON deliveries(recipient_key, message_seq);

CREATE TABLE permissions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  request_id TEXT NOT NULL, requester_key TEXT NOT NULL, requester_name TEXT NOT NULL,
  requester_session TEXT NOT NULL, approver_key TEXT,
  tool_name TEXT NOT NULL, description TEXT NOT NULL, input_preview TEXT NOT NULL,
  state TEXT NOT NULL, created_at INTEGER NOT NULL,
  decided_at INTEGER, decided_by TEXT, decided_kind TEXT, notified_at INTEGER
);
-- Claude Code's 5-letter ids repeat across sessions and runs: key by requester and id.
CREATE UNIQUE INDEX permissions_pending ON permissions(requester_key, request_id) WHERE state = 'pending';

CREATE VIRTUAL TABLE messages_fts USING fts5(content, content='messages', content_rowid='seq');
CREATE TRIGGER messages_fts_ai AFTER INSERT ON messages BEGIN
  INSERT INTO messages_fts(rowid, content) VALUES (new.seq, new.content);
END;
CREATE TRIGGER messages_fts_ad AFTER DELETE ON messages BEGIN
  INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.seq, old.content);
END;
`,
    postgres: `
CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  name TEXT, name_key TEXT, name_source TEXT, wanted_name TEXT,
  role TEXT, project TEXT, cwd TEXT NOT NULL, host TEXT NOT NULL,
  pid INTEGER NOT NULL, ppid INTEGER NOT NULL, pid_start TEXT, ppid_start TEXT,
  can_push BOOLEAN NOT NULL DEFAULT false, client TEXT, doorbell TEXT,
  started_at BIGINT NOT NULL, last_active_at BIGINT NOT NULL, heartbeat_at BIGINT NOT NULL,
  ended_at BIGINT, end_reason TEXT
);
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
CREATE UNIQUE INDEX permissions_pending ON permissions(requester_key, request_id) WHERE state = 'pending';
`,
  },
  {
    // SQLite: the full-text index is built in batches instead of by a trigger on every insert:
    // the trigger was 185 of the 308 µs an insert took. A search (and the minute's housekeeping)
    // first indexes what came since fts_progress.indexed_seq. PostgreSQL's GIN index needs no
    // such table. Both: marking replies looks only at deliveries not yet replied to, not at a
    // session's whole history. (PostgreSQL got this index in 2.0 only from version 2 on.)
    version: 2,
    sqlite: `
DROP TRIGGER messages_fts_ai;
CREATE TABLE fts_progress (id INTEGER PRIMARY KEY CHECK (id = 1), indexed_seq INTEGER NOT NULL);
INSERT INTO fts_progress (id, indexed_seq) VALUES (1, (SELECT coalesce(max(seq), 0) FROM messages));
-- Only rows already in the index may be deleted from it (an external-content FTS5 table is
-- corrupted by deleting a row it never had).
DROP TRIGGER messages_fts_ad;
CREATE TRIGGER messages_fts_ad AFTER DELETE ON messages
  WHEN old.seq <= (SELECT indexed_seq FROM fts_progress WHERE id = 1) BEGIN
  INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.seq, old.content);
END;
CREATE INDEX deliveries_delivered ON deliveries(recipient_key, message_seq) WHERE state = 'delivered';
`,
    postgres: `
CREATE INDEX IF NOT EXISTS deliveries_delivered ON deliveries(recipient_key, message_seq) WHERE state = 'delivered';
`,
  },
  {
    // Issue 13 (security). Each session records where it runs (the kernel's boot and pid
    // namespace: whose pids it can check) and its own heartbeat expiry, so no judge's launch
    // settings (CC_DM_HOST, CC_DM_HEARTBEAT_EXPIRY_MS) decide whether someone else is alive. A
    // name taken with register starts with no past: history before history_since is not its own.
    version: 3,
    sqlite: `
ALTER TABLE sessions ADD COLUMN machine TEXT;
ALTER TABLE sessions ADD COLUMN heartbeat_expiry_ms INTEGER;
ALTER TABLE sessions ADD COLUMN history_since INTEGER;
`,
    postgres: `
ALTER TABLE sessions ADD COLUMN machine TEXT;
ALTER TABLE sessions ADD COLUMN heartbeat_expiry_ms BIGINT;
ALTER TABLE sessions ADD COLUMN history_since BIGINT;
`,
  },
  {
    // Delivery paths (channel, hook, pull) and presence. A session records which agent CLI runs
    // it and that agent's own session id and transcript (hooks bind to it and confirm from it), its
    // delivery path and its presence. A delivery claimed by a hook is 'delivered' with the random
    // code it was printed with and the transcript's size at that moment; confirmed_at is set once
    // the text is seen in the agent's context (until then it may be queued again). One-shot watches
    // tell a sender when a recipient becomes idle.
    version: 4,
    sqlite: `
ALTER TABLE sessions ADD COLUMN agent TEXT;
ALTER TABLE sessions ADD COLUMN agent_pid INTEGER;
ALTER TABLE sessions ADD COLUMN agent_session TEXT;
ALTER TABLE sessions ADD COLUMN transcript TEXT;
ALTER TABLE sessions ADD COLUMN path TEXT;
ALTER TABLE sessions ADD COLUMN presence TEXT;
ALTER TABLE sessions ADD COLUMN presence_at INTEGER;
ALTER TABLE deliveries ADD COLUMN claim_code TEXT;
ALTER TABLE deliveries ADD COLUMN claim_offset INTEGER;
ALTER TABLE deliveries ADD COLUMN confirmed_at INTEGER;
CREATE INDEX deliveries_unconfirmed ON deliveries(recipient_key, message_seq) WHERE delivered_via = 'hook' AND confirmed_at IS NULL AND state = 'delivered';
CREATE TABLE idle_watches (
  target_key TEXT NOT NULL, watcher_key TEXT NOT NULL, watcher_name TEXT NOT NULL, created_at INTEGER NOT NULL,
  PRIMARY KEY (target_key, watcher_key)
);
`,
    postgres: `
ALTER TABLE sessions ADD COLUMN agent TEXT;
ALTER TABLE sessions ADD COLUMN agent_pid INTEGER;
ALTER TABLE sessions ADD COLUMN agent_session TEXT;
ALTER TABLE sessions ADD COLUMN transcript TEXT;
ALTER TABLE sessions ADD COLUMN path TEXT;
ALTER TABLE sessions ADD COLUMN presence TEXT;
ALTER TABLE sessions ADD COLUMN presence_at BIGINT;
ALTER TABLE deliveries ADD COLUMN claim_code TEXT;
ALTER TABLE deliveries ADD COLUMN claim_offset BIGINT;
ALTER TABLE deliveries ADD COLUMN confirmed_at BIGINT;
CREATE INDEX deliveries_unconfirmed ON deliveries(recipient_key, message_seq) WHERE delivered_via = 'hook' AND confirmed_at IS NULL AND state = 'delivered';
CREATE TABLE idle_watches (
  target_key TEXT NOT NULL, watcher_key TEXT NOT NULL, watcher_name TEXT NOT NULL, created_at BIGINT NOT NULL,
  PRIMARY KEY (target_key, watcher_key)
);
`,
  },
  {
    // Codex CLI and Gemini CLI sessions (issue 15). A session records how it is woken when idle
    // (`wake`: Claude Code's bell, Codex's queue, a Gemini waiter the model runs, or none) and the
    // process that waits for its mail on its behalf (a Gemini `cc-dm wait`), so a waiter killed
    // without a word is not shown as armed. A Codex thread is found by its id (agent_session) among
    // the open sessions.
    version: 5,
    sqlite: `
ALTER TABLE sessions ADD COLUMN wake TEXT;
ALTER TABLE sessions ADD COLUMN wake_pid INTEGER;
CREATE INDEX sessions_agent_session ON sessions(agent_session) WHERE ended_at IS NULL AND agent_session IS NOT NULL;
`,
    postgres: `
ALTER TABLE sessions ADD COLUMN wake TEXT;
ALTER TABLE sessions ADD COLUMN wake_pid INTEGER;
CREATE INDEX sessions_agent_session ON sessions(agent_session) WHERE ended_at IS NULL AND agent_session IS NOT NULL;
`,
  },
];

export const LATEST_VERSION: number = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** Objects one dialect has for full-text search and the other does not (the schema test skips them). */
export const DIALECT_ONLY = {
  sqlite: { tables: ['messages_fts', 'fts_progress'], indexes: [] as string[] },
  postgres: { tables: [] as string[], indexes: ['messages_fts'] },
};
