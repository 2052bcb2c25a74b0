/**
 * One schema, two dialects: a fresh SQLite store and a fresh PostgreSQL store end at the same
 * version, with the same tables, the same columns in each, and the same indexes on each table
 * (full-text search aside: an FTS5 table in SQLite, a GIN index in PostgreSQL). A migration added
 * for one dialect only fails here.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { DIALECT_ONLY, LATEST_VERSION, MIGRATIONS } from '../../src/store/schema.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { freshDatabase, sharedOrOwnServer } from './postgres-support.js';

/** Table -> sorted columns, and table -> sorted index names (primary keys and unique constraints' own indexes left out). */
interface Shape {
  version: number;
  versions: number[];
  columns: Record<string, string[]>;
  indexes: Record<string, string[]>;
}

function sqliteShape(path: string): Shape {
  const db = new Database(path, { readonly: true });
  try {
    const skip = new Set(DIALECT_ONLY.sqlite.tables);
    const tables = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`).all() as { name: string }[])
      .map((t) => t.name)
      .filter((t) => !skip.has(t) && !t.startsWith('messages_fts_'));
    const columns: Shape['columns'] = {};
    const indexes: Shape['indexes'] = {};
    for (const t of tables) {
      columns[t] = (db.prepare(`SELECT name FROM pragma_table_info(?)`).all(t) as { name: string }[]).map((c) => c.name).sort();
      indexes[t] = (db.prepare(`SELECT name FROM pragma_index_list(?) WHERE origin = 'c'`).all(t) as { name: string }[]).map((i) => i.name).sort();
    }
    const versions = (db.prepare('SELECT version FROM cc_dm_migrations ORDER BY version').all() as { version: number }[]).map((r) => r.version);
    return { version: versions.at(-1) ?? 0, versions, columns, indexes };
  } finally {
    db.close();
  }
}

async function postgresShape(url: string): Promise<Shape> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const skip = new Set(DIALECT_ONLY.postgres.indexes);
    const cols = (await c.query(`SELECT table_name AS t, column_name AS c FROM information_schema.columns WHERE table_schema = 'cc_dm'`)).rows;
    const idx = (await c.query(`SELECT i.tablename AS t, i.indexname AS n FROM pg_indexes i
      WHERE i.schemaname = 'cc_dm' AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conname = i.indexname)`)).rows;
    const columns: Shape['columns'] = {};
    const indexes: Shape['indexes'] = {};
    for (const r of cols) (columns[r.t] ??= []).push(r.c);
    for (const t of Object.keys(columns)) {
      columns[t]!.sort();
      indexes[t] = [];
    }
    for (const r of idx) if (!skip.has(r.n)) indexes[r.t]!.push(r.n);
    for (const t of Object.keys(indexes)) indexes[t]!.sort();
    const versions = (await c.query('SELECT version FROM cc_dm.cc_dm_migrations ORDER BY version')).rows.map((r) => r.version as number);
    return { version: versions.at(-1) ?? 0, versions, columns, indexes };
  } finally {
    await c.end();
  }
}

describe('one schema for both stores', () => {
  let server: Awaited<ReturnType<typeof sharedOrOwnServer>>;
  const cleanups: (() => unknown)[] = [];
  before(async () => { server = await sharedOrOwnServer(); });
  after(async () => {
    for (const c of cleanups.reverse()) await c();
    await server.done();
  });

  test('fresh stores of both kinds end at the same version with the same tables, columns and indexes', async () => {
    const home = mkdtempSync(join(tmpdir(), 'ccdm-schema-'));
    cleanups.push(() => rmSync(home, { recursive: true, force: true }));
    const path = join(home, 'bus.db');
    await (await SqliteStore.open({ path, busyLimitMs: 5_000 })).close();
    const db = await freshDatabase(server.adminUrl);
    cleanups.push(db.drop);
    await (await PostgresStore.open({ url: db.url })).close();

    const lite = sqliteShape(path);
    const post = await postgresShape(db.url);
    assert.equal(lite.version, LATEST_VERSION);
    assert.equal(post.version, LATEST_VERSION);
    assert.deepEqual(lite.versions, MIGRATIONS.map((m) => m.version), 'every migration recorded on SQLite');
    assert.deepEqual(post.versions, lite.versions, 'and the same on PostgreSQL');
    assert.deepEqual(Object.keys(post.columns).sort(), Object.keys(lite.columns).sort(), 'the same tables');
    for (const t of Object.keys(lite.columns)) {
      assert.deepEqual(post.columns[t], lite.columns[t], `the same columns in ${t}`);
      assert.deepEqual(post.indexes[t], lite.indexes[t], `the same indexes on ${t}`);
    }
    assert.ok(lite.indexes.deliveries!.includes('deliveries_delivered'), 'version 2 reached both');
  });

  test('a PostgreSQL store left at version 1 by cc-dm 2.0 is brought to the latest version', async () => {
    const db = await freshDatabase(server.adminUrl);
    cleanups.push(db.drop);
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      await c.query('CREATE SCHEMA cc_dm');
      await c.query('SET search_path TO cc_dm');
      await c.query('CREATE TABLE cc_dm_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)');
      await c.query(MIGRATIONS[0]!.postgres);
      await c.query('INSERT INTO cc_dm_migrations VALUES (1, 0)');
    } finally {
      await c.end();
    }
    await (await PostgresStore.open({ url: db.url })).close();
    const shape = await postgresShape(db.url);
    assert.equal(shape.version, LATEST_VERSION);
    assert.ok(shape.indexes.deliveries!.includes('deliveries_delivered'));
  });
});
