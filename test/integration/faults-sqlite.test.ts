/** Faults of the embedded store: a database locked by another process, corrupt or foreign files, a newer schema. */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { sqlite } from '../support/stores.js';
import { World } from '../support/world.js';
import { BIN, cleanEnv } from '../../src/channel/peer.js';

// SQLite-specific: runs on SQLite whatever CC_DM_TEST_STORES selects.

/** Another process holding the write lock for `ms` (as a stuck writer would). */
function holdLock(db: string, ms: number) {
  const code = `const D=require(${JSON.stringify(require.resolve('better-sqlite3'))});const d=new D(${JSON.stringify(db)},{timeout:10000});` +
    `d.exec('BEGIN EXCLUSIVE');d.prepare("INSERT INTO cc_dm_migrations VALUES (9999, 0)").run();process.stdout.write('locked\\n');` +
    `setTimeout(()=>{d.exec('ROLLBACK');d.close();process.exit(0)},${ms});`;
  const p = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const released = new Promise<void>((resolve) => p.once('exit', () => resolve()));
  return new Promise<{ released: Promise<void> }>((resolve, reject) => {
    p.stdout.once('data', () => resolve({ released }));
    p.once('exit', (c) => reject(new Error(`the lock holder exited (${c}) before taking the lock`)));
  });
}

import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);

describe('faults [sqlite]', () => {
  let w: World;
  before(async () => { w = await World.create(sqlite); });
  after(async () => { await w.close(); });

  test('the database held locked for 10 s: a send waits and succeeds; nothing is lost', async () => {
    const a = await w.start('lock-a');
    const b = await w.start('lock-b');
    const locker = await holdLock(join(w.home, 'bus.db'), 10_000);
    const t0 = Date.now();
    // Meanwhile the event loop stays free: the server answers tool calls that only read.
    const sent = a.call('dm', { to: 'lock-b', content: 'through the lock' });
    const who = await a.call('who');
    assert.equal(who.isError, false);
    assert.ok(Date.now() - t0 < 5000, 'reads are not blocked by the writer');
    const r = await sent;
    assert.equal(r.isError, false, JSON.stringify(r.body));
    assert.ok(Date.now() - t0 >= 9000, 'the send waited for the lock');
    await b.waitFor((p) => p.pushes.length === 1, 10_000, 'the dm after the lock');
    await locker.released;
  });

  test('past the stated limit a send fails with a clear error and nothing is half-written', async () => {
    const a = await w.start('limit-a', { env: { CC_DM_BUSY_LIMIT_MS: '1000' } });
    await w.start('limit-b');
    const locker = await holdLock(join(w.home, 'bus.db'), 4000);
    const r = await a.call('dm', { to: 'limit-b', content: 'must not exist' });
    assert.equal(r.isError, true);
    assert.equal(r.body.code, 'E_STORE_BUSY');
    assert.match(r.body.error, /stayed locked for more than 1 s.*nothing was written/);
    await locker.released;
    const search = w.cli(['search', 'must', 'not', 'exist', '--json']);
    assert.deepEqual(search.json, []);
    assert.equal((await a.call('dm', { to: 'limit-b', content: 'after' })).isError, false, 'works again once the lock is gone');
  });

  test('a corrupt database is a clear error at start, and the file is never overwritten', () => {
    const home = join(w.home, 'corrupt');
    mkdirSync(home);
    const junk = Buffer.from('this is not a database, but it is somebody\'s file\n'.repeat(200));
    writeFileSync(join(home, 'bus.db'), junk);
    for (let i = 0; i < 2; i++) {
      const r = spawnSync(process.execPath, [BIN, 'serve'], { env: { ...cleanEnv(), CC_DM_HOME: home, CC_DM_SESSION_NAME: 'x' }, input: '', encoding: 'utf8', timeout: 20_000 });
      assert.equal(r.status, 1);
      assert.match(r.stderr, /is not a readable cc-dm database.*will not overwrite it/);
      assert.equal(r.stdout, '');
      const cli = spawnSync(process.execPath, [BIN, 'who'], { env: { ...cleanEnv(), CC_DM_HOME: home }, encoding: 'utf8' });
      assert.notEqual(cli.status, 0);
      assert.match(cli.stderr, /not a readable cc-dm database/);
    }
    assert.deepEqual(readFileSync(join(home, 'bus.db')), junk);
  });

  test('a directory where the database should be is a clear error', () => {
    const home = join(w.home, 'dir-db');
    mkdirSync(join(home, 'bus.db'), { recursive: true });
    const r = spawnSync(process.execPath, [BIN, 'who'], { env: { ...cleanEnv(), CC_DM_HOME: home }, encoding: 'utf8' });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /is a directory, not a database file/);
    rmSync(home, { recursive: true });
  });

  test('a home that cannot be created is a clear error, not a hang', () => {
    const r = spawnSync(process.execPath, [BIN, 'who'], { env: { ...cleanEnv(), CC_DM_HOME: '/proc/cc-dm-cannot-be-here' }, encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /cannot create the cc-dm folder \/proc\/cc-dm-cannot-be-here.*set CC_DM_HOME/);
  });

  test('a database from a newer cc-dm is refused, not written to', () => {
    const home = join(w.home, 'newer');
    mkdirSync(home);
    const ok = spawnSync(process.execPath, [BIN, 'who'], { env: { ...cleanEnv(), CC_DM_HOME: home }, encoding: 'utf8' });
    assert.equal(ok.status, 0, ok.stderr);
    const db = new Database(join(home, 'bus.db'));
    db.prepare('INSERT INTO cc_dm_migrations VALUES (999, 0)').run();
    db.close();
    const r = spawnSync(process.execPath, [BIN, 'serve'], { env: { ...cleanEnv(), CC_DM_HOME: home, CC_DM_SESSION_NAME: 'x' }, input: '', encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /schema version 999, newer than this cc-dm knows/);
    const check = new Database(join(home, 'bus.db'), { readonly: true });
    assert.equal((check.prepare('SELECT count(*) AS c FROM sessions').get() as { c: number }).c, 0, 'no session row was written');
    check.close();
  });

  test('a new home is private: folder 0700, database and its WAL 0600', async () => {
    const { statSync, existsSync } = await import('node:fs');
    const home = join(w.home, 'fresh', 'home');
    const r = spawnSync(process.execPath, [BIN, 'who'], { env: { ...cleanEnv(), CC_DM_HOME: home }, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(statSync(home).mode & 0o777, 0o700);
    for (const f of ['bus.db', 'bus.db-wal', 'bus.db-shm']) {
      if (existsSync(join(home, f))) assert.equal(statSync(join(home, f)).mode & 0o777, 0o600, f);
    }
  });
});
