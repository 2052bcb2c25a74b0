/**
 * PostgreSQL only: the server going away. Each test runs its own throwaway PostgreSQL (from
 * scripts/pg.mjs), since stopping the shared one would break the suites running beside it.
 * The servers poll every 60 s, so whatever arrives sooner came through LISTEN/NOTIFY.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Peer } from '../../src/channel/peer.js';
import { tempHome, throwawayPostgres, type PgServer } from './postgres-support.js';
import { sleep } from '../support/wait.js';

describe('postgres: faults', () => {
  const peers: Peer[] = [];
  const servers: PgServer[] = [];
  const cleanups: (() => void)[] = [];
  after(async () => {
    for (const p of peers) await p.close();
    for (const s of servers) await s.stop();
    cleanups.forEach((c) => c());
  });

  async function pg(): Promise<PgServer> {
    const s = await throwawayPostgres();
    servers.push(s);
    return s;
  }

  async function start(url: string, name: string, env: Record<string, string> = {}): Promise<Peer> {
    const h = tempHome();
    cleanups.push(h.cleanup);
    const p = await Peer.start({ home: h.home, name, env: { CC_DM_DATABASE_URL: url, CC_DM_POLL_MS: '60000', ...env } });
    peers.push(p);
    return p;
  }

  test('PostgreSQL restarted mid-run: servers reconnect, LISTEN is re-established, nothing accepted is lost', async () => {
    const db = await pg();
    const a = await start(db.url, 'sender', { CC_DM_HOST: 'host-a' });
    const b = await start(db.url, 'receiver', { CC_DM_HOST: 'host-b', CC_DM_LOG_LEVEL: 'debug' });
    const accepted: string[] = [];
    const send = async (i: number) => {
      const r = await a.call('dm', { to: 'receiver', content: `m${i}` });
      if (!r.isError) accepted.push(`m${i}`);
      else assert.equal(r.body.code, 'E_STORE_DOWN', `only a store-down error, and a clear one: ${JSON.stringify(r.body)}`);
      return r;
    };
    for (let i = 0; i < 10; i++) await send(i);
    await b.waitFor((p) => p.pushes.length === 10, 5_000, 'the first 10 dms');

    // Sends keep going while the server restarts; each waits for it (retries) and then succeeds.
    let i = 10;
    let stop = false;
    const sender = (async () => { while (!stop) { await send(i++); await sleep(20); } })();
    await sleep(200);
    await db.restart('fast');
    await sleep(1_500);
    stop = true;
    await sender;
    assert.ok(i > 15, `sends went on during the restart (${i - 10})`);
    assert.equal(accepted.length, i, 'every send was accepted (they wait for the server instead of failing)');

    // Everything accepted arrives, once, in order; the ones after the restart without waiting for the poll.
    await b.waitFor((p) => p.pushes.length >= accepted.length, 10_000, `all ${accepted.length} accepted dms`)
      .catch((e) => { throw new Error(`${e.message}\nsender's log:\n${a.stderrText}\nreceiver's log:\n${b.stderrText}`); });
    await sleep(300);
    assert.deepEqual(b.pushes.map((p) => p.content), accepted, 'once each, in order');

    // LISTEN is back on both sides: a dm each way arrives in well under the 60 s poll.
    const t0 = Date.now();
    await a.call('dm', { to: 'receiver', content: 'after' });
    await b.waitFor((p) => p.pushes.at(-1)?.content === 'after', 5_000, 'a dm after the restart');
    await b.call('dm', { to: 'sender', content: 'and back' });
    await a.waitFor((p) => p.pushes.length === 1, 5_000, 'a dm back after the restart');
    assert.ok(Date.now() - t0 < 5_000);

    // A second, abrupt restart (immediate: no goodbye to the clients) is survived as well.
    await db.restart('immediate');
    const r = await a.call('dm', { to: 'receiver', content: 'after an immediate restart' });
    assert.equal(r.isError, false, JSON.stringify(r.body));
    await b.waitFor((p) => p.pushes.at(-1)?.content === 'after an immediate restart', 10_000, 'a dm after an immediate restart');
    for (const p of [a, b]) {
      assert.ok(!p.stderrText.includes(db.password), 'no password in stderr');
      assert.match(p.stderrText, /doorbell: LISTEN connection lost/, 'the log says the doorbell was lost');
      assert.match(p.stderrText, /doorbell: LISTEN re-established after \d+ ms/, 'and that it is back');
    }
  });

  test('PostgreSQL down at start: a clear error, the server keeps running and retries, then works', async () => {
    const db = await pg();
    await db.down();
    const logFile = join(tempHome().home, 'serve.log');
    const early = await start(db.url, 'early-bird', { CC_DM_LOG_FILE: logFile });
    // The handshake worked (Peer.start resolved); tools say what is wrong.
    const r = await early.call('who');
    assert.equal(r.isError, true);
    assert.equal(r.body.success, false);
    assert.equal(r.body.code, 'E_STORE_DOWN');
    assert.match(r.body.error, /unreachable/);
    assert.match(r.body.error, /127\.0\.0\.1/, 'says where');
    const dm = await early.call('dm', { to: 'anyone', content: 'x' });
    assert.equal(dm.body.code, 'E_STORE_DOWN');
    assert.match(dm.body.error, /nothing was sent/i);
    await sleep(2_500);
    assert.ok(early.pid && (() => { try { process.kill(early.pid, 0); return true; } catch { return false; } })(), 'no exit, no crash loop');
    const log = readFileSync(logFile, 'utf8');
    assert.match(log, /unreachable.*connection refused/, 'the log says what is wrong');
    assert.match(log, /retrying with backoff|next try in/);
    assert.ok(!log.includes(db.password), 'no password in the log');

    await db.up();
    let who: any;
    const deadline = Date.now() + 20_000;
    do {
      await sleep(250);
      who = await early.call('who');
    } while (who.isError && Date.now() < deadline);
    assert.equal(who.isError, false, `works once PostgreSQL is up: ${JSON.stringify(who.body)}`);
    assert.equal(who.body.you, 'early-bird');
    const late = await start(db.url, 'late');
    const sent = await late.call('dm', { to: 'early-bird', content: 'you are up' });
    assert.equal(sent.isError, false, JSON.stringify(sent.body));
    await early.waitFor((p) => p.pushes.length === 1, 5_000, 'a push to the server that started while PostgreSQL was down');
    assert.ok(!readFileSync(logFile, 'utf8').includes(db.password));
    assert.ok(!early.stderrText.includes(db.password));
  });

  test('credentials never appear in logs, errors, stderr or cc-dm doctor', async () => {
    const db = await pg();
    const h = tempHome();
    cleanups.push(h.cleanup);
    const { spawnSync } = await import('node:child_process');
    const { BIN, cleanEnv } = await import('../../src/channel/peer.js');
    const cli = (args: string[], url: string) => {
      const r = spawnSync(process.execPath, [BIN, ...args], { env: { ...cleanEnv(), CC_DM_HOME: h.home, CC_DM_DATABASE_URL: url }, encoding: 'utf8', timeout: 60_000 });
      return { code: r.status, text: `${r.stdout}\n${r.stderr}` };
    };
    const wrongPassword = db.url.replace(`:${encodeURIComponent(db.password)}@`, ':Wr0ng-s3cret-pw@');
    const urlParam = `postgres://127.0.0.1:${db.port()}/postgres?user=ccdm&password=${encodeURIComponent(db.password)}`;
    const seen: string[] = [];

    for (const args of [['doctor'], ['who'], ['log']]) seen.push(cli(args, db.url).text);
    const doctor = cli(['doctor'], db.url);
    assert.match(doctor.text, new RegExp(`127\\.0\\.0\\.1:${db.port()}`), 'doctor names the server');
    seen.push(doctor.text, cli(['who'], urlParam).text);
    const refused = cli(['who'], wrongPassword);
    assert.notEqual(refused.code, 0);
    assert.match(refused.text, /refused the login|password/i, 'a wrong password is named as such');
    seen.push(refused.text, cli(['doctor'], wrongPassword).text);

    const logFile = join(h.home, 'serve.log');
    writeFileSync(logFile, '');
    const p = await start(db.url, 'secretive', { CC_DM_LOG_FILE: logFile, CC_DM_LOG_LEVEL: 'debug' });
    await p.call('who');
    await db.down('immediate');
    seen.push(cli(['doctor'], db.url).text, cli(['who'], db.url).text, cli(['send', 'secretive', 'hi'], db.url).text);
    const failing = await p.call('who');
    seen.push(JSON.stringify(failing.body));
    await db.up();
    await p.call('who');
    await p.close();
    await sleep(300);
    seen.push(p.stderrText, readFileSync(logFile, 'utf8'));

    for (const text of seen) {
      assert.ok(!text.includes(db.password), `the password leaked:\n${text.replaceAll(db.password, '<PASSWORD>')}`);
      assert.ok(!text.includes(encodeURIComponent(db.password)), 'the encoded password leaked');
      assert.ok(!text.includes('Wr0ng-s3cret-pw'), `a wrong password leaked:\n${text}`);
    }
  });
});
