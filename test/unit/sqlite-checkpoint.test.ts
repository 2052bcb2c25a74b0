/**
 * The SQLite connection checkpoints between writes (src/store/sqlite/checkpoint.ts): not inside
 * the commit that crosses SQLite's threshold, but once it has written enough and then gone idle;
 * SQLite's own checkpoint stays as a backstop at a larger WAL. And a failed write transaction
 * leaves nothing behind, through the statements the connection prepares once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteConnection } from '../../src/store/sqlite/connection.js';
import { CHECKPOINT_POLICY, IdleCheckpoint } from '../../src/store/sqlite/checkpoint.js';
import { until } from '../support/wait.js';

async function withConnection(fn: (c: SqliteConnection) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ccdm-ckpt-'));
  const c = await SqliteConnection.open(join(dir, 'bus.db'), 5_000);
  try {
    c.db.exec('CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT NOT NULL)');
    await fn(c);
  } finally {
    c.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a connection checkpoints once it has written enough and gone idle, and leaves SQLite its backstop', async () => {
  await withConnection(async (c) => {
    assert.equal(c.db.pragma('wal_autocheckpoint', { simple: true }), CHECKPOINT_POLICY.backstopPages);
    c.checkpoints?.close();
    const ckpt = new IdleCheckpoint(c.db, { afterWrites: 5, idleMs: 20, backstopPages: 100_000 });
    c.checkpoints = ckpt;
    assert.equal(c.db.pragma('wal_autocheckpoint', { simple: true }), 100_000);
    for (let i = 0; i < 4; i++) await c.write(() => c.sql('INSERT INTO t (b) VALUES (?)').run(`row ${i}`));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(ckpt.ran, 0, 'fewer writes than the threshold: no checkpoint');
    // Ten more writes in one turn of the event loop: the idle timer cannot fire between them.
    for (let i = 4; i < 14; i++) await c.write(() => c.sql('INSERT INTO t (b) VALUES (?)').run(`row ${i}`));
    assert.equal(ckpt.ran, 0, 'never inside a burst of writes');
    await until(() => ckpt.ran === 1, 10_000, 'the idle checkpoint');
  });
});

test('a write transaction that fails is rolled back whole, and the next one commits', async () => {
  await withConnection(async (c) => {
    await assert.rejects(
      c.write(() => {
        c.sql('INSERT INTO t (b) VALUES (?)').run('kept?');
        c.sql('INSERT INTO t (b) VALUES (?)').run(null); // NOT NULL
      }),
      /NOT NULL/,
    );
    assert.equal(c.db.inTransaction, false);
    assert.equal((c.db.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n, 0, 'nothing of the failed transaction stays');
    await c.write(() => c.sql('INSERT INTO t (b) VALUES (?)').run('next'));
    assert.equal((c.db.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n, 1);
  });
});
