/**
 * PostgreSQL only: what SQLite gets from its single file and PostgreSQL must get from locks.
 * Twenty servers migrating one empty database at once; a newer schema refused; claims racing
 * from separate processes; full-text search matching words by prefix as SQLite's FTS5 does.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import pg from 'pg';
import { Peer } from '../../src/channel/peer.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { MIGRATIONS } from '../../src/store/schema.js';
import { claimPlan, claimRules } from '../../src/bus/claim.js';
import { describeUrl, translate } from '../../src/store/postgres/connection.js';
import type { NewSession } from '../../src/store/types.js';
import { freshDatabase, sharedOrOwnServer, tempHome } from './postgres-support.js';
import { sleep } from '../support/wait.js';

describe('postgres: store', () => {
  let server: Awaited<ReturnType<typeof sharedOrOwnServer>>;
  const cleanups: (() => unknown)[] = [];
  before(async () => { server = await sharedOrOwnServer(); });
  after(async () => {
    for (const c of cleanups.reverse()) await c();
    await server.done();
  });

  async function db() {
    const d = await freshDatabase(server.adminUrl);
    cleanups.push(d.drop);
    return d.url;
  }

  function session(id: string, host = 'h'): NewSession {
    const now = Date.now();
    return {
      id, role: null, project: null, cwd: '/', host, pid: 999_999, ppid: 1, pid_start: null, ppid_start: null, can_push: true,
      client: null, doorbell: null, started_at: now, last_active_at: now, heartbeat_at: now, machine: null, heartbeat_expiry_ms: null,
      agent: null, agent_pid: null, path: null,
    };
  }

  test('twenty servers starting at once on an empty database migrate it exactly once', async () => {
    const url = await db();
    const stores = await Promise.all(Array.from({ length: 20 }, () => PostgresStore.open({ url })));
    try {
      for (const s of stores) assert.equal(await s.schemaVersion(), MIGRATIONS.at(-1)!.version);
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      const rows = (await c.query('SELECT version FROM cc_dm.cc_dm_migrations ORDER BY version')).rows;
      await c.end();
      assert.deepEqual(rows.map((r) => r.version), MIGRATIONS.map((m) => m.version));
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  test('a database from a newer cc-dm is refused with E_STORE_VERSION, and not written to', async () => {
    const url = await db();
    await (await PostgresStore.open({ url })).close();
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    await c.query('INSERT INTO cc_dm.cc_dm_migrations (version, applied_at) VALUES (999, 0)');
    await assert.rejects(PostgresStore.open({ url }), (e: any) => {
      assert.equal(e.code, 'E_STORE_VERSION');
      assert.match(e.message, /999.*newer than this cc-dm knows/);
      assert.ok(!e.message.includes(new URL(url).password), 'no password in the error');
      return true;
    });
    // The CLI and the server refuse the same way.
    const h = tempHome();
    cleanups.push(h.cleanup);
    const cli = spawn(process.execPath, [(await import('../../src/channel/peer.js')).BIN, 'who'], {
      env: { ...process.env, CC_DM_HOME: h.home, CC_DM_DATABASE_URL: url }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    cli.stderr.on('data', (d) => { err += d; });
    const code = await new Promise((r) => cli.on('close', r));
    assert.notEqual(code, 0);
    assert.match(err, /newer than this cc-dm knows/);
    const count = (await c.query('SELECT count(*)::int AS n FROM cc_dm.sessions')).rows[0].n;
    await c.end();
    assert.equal(count, 0, 'nothing written');
  });

  test('claims racing in one database: exactly one holder, the others get variants', async () => {
    const url = await db();
    const stores = await Promise.all(Array.from({ length: 8 }, () => PostgresStore.open({ url })));
    try {
      // Every contender is alive (another host with a fresh heartbeat), so nobody takes a name from another.
      const alive = () => true;
      const results = await Promise.all(stores.map((s, i) => s.claim(() => claimPlan(
        { sessionId: `s${i}`, name: 'Racer', source: 'env', newSession: session(`s${i}`), at: Date.now() }, claimRules('env'), alive))));
      const names = results.map((r) => (r.ok ? r.session.name : r.code)).sort();
      assert.equal(names.filter((n) => n === 'Racer').length, 1, names.join(', '));
      assert.equal(new Set(names).size, 8, `all distinct: ${names.join(', ')}`);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  test('of servers on two hosts started at the same instant with one name, exactly one holds it', async () => {
    const url = await db();
    const homes = [tempHome(), tempHome(), tempHome(), tempHome()];
    homes.forEach((h) => cleanups.push(h.cleanup));
    const peers = await Promise.all(homes.map((h, i) => Peer.start({
      home: h.home, name: 'contested', env: { CC_DM_DATABASE_URL: url, CC_DM_HOST: `host-${i % 2}` },
    })));
    try {
      const mine = await Promise.all(peers.map(async (p) => (await p.call('who')).body.you as string));
      assert.equal(mine.filter((n) => n === 'contested').length, 1, mine.join(', '));
      assert.equal(new Set(mine).size, peers.length, mine.join(', '));
    } finally {
      await Promise.all(peers.map((p) => p.close()));
    }
  });

  test('search matches words by prefix, case-insensitively, all words required (as SQLite FTS5)', async () => {
    const url = await db();
    const s = await PostgresStore.open({ url });
    try {
      const texts = ['Deploy the payments service tonight', 'payment failed: see logs at example.com/x', 'unrelated chatter', 'DEPLOYMENT done; 3.5 minutes'];
      let n = 0;
      for (const content of texts) {
        const now = Date.now() + n++;
        await s.insertMessages([{
          message: {
            id: `m_${n}`, kind: 'dm', from_name: 'a', from_key: 'a', from_session: null, sender_kind: 'human', to_name: 'b', project: null,
            content, priority: null, message_type: null, thread_id: null, sent_at: now, expires_at: now + 60_000,
          },
          recipients: [{ key: 'b', display: 'b' }],
        }]);
      }
      const find = async (query: string) => (await s.history({ query, limit: 50 })).map((t) => t.message.content);
      assert.deepEqual(await find('deploy'), [texts[0], texts[3]], 'prefix and case');
      assert.deepEqual(await find('pay'), [texts[0], texts[1]]);
      assert.deepEqual(await find('payment deploy'), [texts[0]], 'every word required');
      assert.deepEqual(await find('logs example.com'), [texts[1]], 'punctuation as in the text');
      assert.deepEqual(await find('ployment'), [], 'a word start, not any substring');
      assert.deepEqual(await find('"quoted" (paren) \'x'), [], 'odd input is never a syntax error');
      assert.deepEqual(await find('!!!'), [], 'no words: no match');
    } finally {
      await s.close();
    }
  });

  test('where the store is, and its errors, never carry credentials', () => {
    assert.equal(describeUrl('postgres://bob:s3cret@db.example:6543/team?sslmode=require'), 'postgres://db.example:6543/team');
    assert.equal(describeUrl('postgresql://db.example/team?user=bob&password=s3cret'), 'postgres://db.example/team');
    assert.equal(describeUrl('postgres:///team?host=/var/run/postgresql&password=s3cret'), 'postgres:///var/run/postgresql/team');
    assert.ok(!describeUrl('postgres://bob:s3cret@[not a url').includes('s3cret'));
    const where = describeUrl('postgres://bob:s3cret@db:5432/x');
    const login = translate(where, Object.assign(new Error('password authentication failed for user "bob"'), { code: '28P01' })) as any;
    assert.equal(login.code, 'E_CONFIG');
    assert.match(login.message, /refused the login/);
    const echoed = translate(where, new Error('could not connect to postgres://bob:s3cret@db:5432/x'));
    assert.ok(!echoed.message.includes('s3cret'), echoed.message);
  });

  test('an idle server polls without queries while it listens, yet mail that was never rung still arrives', async () => {
    const url = await db();
    const h = tempHome();
    cleanups.push(h.cleanup);
    const quiet = await Peer.start({ home: h.home, name: 'quiet', env: { CC_DM_DATABASE_URL: url, CC_DM_POLL_MS: '100' } });
    const c = new pg.Client({ connectionString: url });
    c.on('error', () => {});
    try {
      assert.equal((await quiet.call('who')).body.you, 'quiet');
      await c.connect();
      const commits = async () => {
        await c.query('SELECT pg_stat_clear_snapshot()');
        return Number((await c.query('SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()')).rows[0].xact_commit);
      };
      await sleep(1_500);
      const before = await commits();
      await sleep(4_000);
      const spent = await commits() - before;
      // 40 polls reading two tables each would be 80 transactions; a few forced reads remain.
      assert.ok(spent < 40, `an idle poll skips its queries (${spent} transactions in 4 s at a 100 ms poll)`);

      // A message written behind the doorbell's back (no NOTIFY): a forced read finds it.
      const now = Date.now();
      const seq = (await c.query(`INSERT INTO cc_dm.messages (id, kind, from_name, from_key, sender_kind, to_name, content, sent_at, expires_at)
        VALUES ('m_unrung', 'dm', 'human', 'human', 'human', 'quiet', 'never rung', $1, $2) RETURNING seq`, [now, now + 60_000])).rows[0].seq;
      await c.query(`INSERT INTO cc_dm.deliveries (message_seq, recipient_key, recipient_name, state, queued_at) VALUES ($1, 'quiet', 'quiet', 'queued', $2)`, [seq, now]);
      await quiet.waitFor((p) => p.pushes.some((x) => x.content === 'never rung'), 5_000, 'mail that was never rung');
    } finally {
      await c.end().catch(() => {});
      await quiet.close();
    }
  });
});
