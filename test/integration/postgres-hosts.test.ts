/**
 * PostgreSQL only: sessions on several machines. Each server gets its own CC_DM_HOST (and its
 * own CC_DM_HOME, as on separate machines); the only thing they share is the database. The rules
 * of liveness by heartbeat (alive while fresh, expired after the expiry, the mailbox kept) are
 * tested in-process on a clock the test moves: test/inproc/hosts.test.ts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Peer } from '../../src/channel/peer.js';
import { freshDatabase, sharedOrOwnServer, tempHome } from './postgres-support.js';
import { sleep, until } from '../support/wait.js';

describe('postgres: several hosts', () => {
  let server: Awaited<ReturnType<typeof sharedOrOwnServer>>;
  const peers: Peer[] = [];
  const cleanups: (() => unknown)[] = [];

  before(async () => { server = await sharedOrOwnServer(); });
  after(async () => {
    for (const p of peers) {
      try { if (p.pid) process.kill(p.pid, 'SIGKILL'); } catch { /* already gone */ }
      await p.close();
    }
    for (const c of cleanups.reverse()) await c();
    await server.done();
  });

  async function world() {
    const db = await freshDatabase(server.adminUrl);
    cleanups.push(db.drop);
    return {
      url: db.url,
      async start(name: string, host: string, env: Record<string, string> = {}, nodeArgs: string[] = []): Promise<Peer> {
        const h = tempHome();
        cleanups.push(h.cleanup);
        // A 60 s poll: whatever arrives sooner came through LISTEN/NOTIFY.
        const p = await Peer.start({ home: h.home, name, nodeArgs, env: { CC_DM_DATABASE_URL: db.url, CC_DM_HOST: host, CC_DM_POLL_MS: '60000', ...env } });
        peers.push(p);
        return p;
      },
    };
  }

  test('a dm crosses hosts, rung through LISTEN/NOTIFY, and the reply comes back', async () => {
    const w = await world();
    const laptop = await w.start('laptop', 'host-laptop');
    const buildbox = await w.start('buildbox', 'host-buildbox');
    const who = (await laptop.call('who')).body;
    const remote = who.sessions.find((s: any) => s.name === 'buildbox');
    assert.ok(remote, JSON.stringify(who));
    assert.equal(remote.host, 'host-buildbox');

    const t0 = Date.now();
    const r = await laptop.call('dm', { to: 'buildbox', content: 'run the build please', thread_id: 'build-1' });
    assert.equal(r.isError, false, JSON.stringify(r.body));
    assert.equal(r.body.recipient_online, true);
    await buildbox.waitFor((p) => p.pushes.length === 1, 5_000, 'the dm on the other host');
    assert.ok(Date.now() - t0 < 5_000, 'well before the 60 s poll: the doorbell rang');
    assert.equal(buildbox.pushes[0]!.content, 'run the build please');
    assert.equal(buildbox.pushes[0]!.meta.from_session, 'laptop');

    // A reply marks delivered mail replied: the receipt follows the push within moments.
    await until(async () => (await laptop.call('status', { message_id: r.body.message_id })).body.recipients[0].state === 'delivered', 5_000, 'delivered');
    const back = await buildbox.call('dm', { to: 'laptop', content: 'build green', thread_id: 'build-1' });
    assert.equal(back.isError, false, JSON.stringify(back.body));
    await laptop.waitFor((p) => p.pushes.length === 1, 5_000, 'the reply on the first host');
    assert.equal(laptop.pushes[0]!.meta.from_session, 'buildbox');
    const status = (await laptop.call('status', { message_id: r.body.message_id })).body;
    assert.equal(status.recipients[0].state, 'replied');
  });

  test('a session that comes back after expiring, with its name taken meanwhile, rejoins under a variant: no zombie', async () => {
    const w = await world();
    const hb = { CC_DM_HEARTBEAT_MS: '500', CC_DM_HEARTBEAT_EXPIRY_MS: '1500' };
    const watcher = await w.start('watcher-z', 'host-a', hb);
    const old = await w.start('zworker', 'host-b', hb);
    process.kill(old.pid!, 'SIGSTOP');
    let gone = false;
    for (const t0 = Date.now(); !gone && Date.now() - t0 < 10_000;) {
      await sleep(200);
      gone = !(await watcher.call('who')).body.sessions.some((s: any) => s.name === 'zworker');
    }
    assert.ok(gone, 'the frozen session expired');
    const successor = await w.start('zworker', 'host-c', hb);
    assert.equal((await successor.call('who')).body.you, 'zworker');
    process.kill(old.pid!, 'SIGCONT');
    // Its next heartbeat finds its row ended: it joins again, as a variant, since the name is held.
    let rejoined = false;
    for (const t0 = Date.now(); !rejoined && Date.now() - t0 < 10_000;) {
      await sleep(200);
      rejoined = (await old.call('who')).body.you === 'zworker-2';
    }
    assert.ok(rejoined, `the resumed session runs as zworker-2: ${old.stderrText.slice(-1500)}`);
    assert.match(old.stderrText, /ended by another host.*running as "zworker-2"/);
    await watcher.call('dm', { to: 'zworker', content: 'to the successor only' });
    await successor.waitFor((p) => p.pushes.some((m) => m.content === 'to the successor only'), 5_000, 'the dm at the successor');
    await sleep(500);
    assert.ok(!old.pushes.some((m) => m.content === 'to the successor only'), 'the resumed session does not receive the successor\'s mail');
    await old.call('dm', { to: 'watcher-z', content: 'from the old one' });
    await watcher.waitFor((p) => p.pushes.some((m) => m.content === 'from the old one'), 5_000, 'the dm from the resumed session');
    assert.equal(watcher.pushes.find((m) => m.content === 'from the old one')!.meta.from_session, 'zworker-2');
  });

  test('a host whose clock is minutes off is judged by its real heartbeat, not by the clocks\' disagreement', async () => {
    const w = await world();
    const hb = { CC_DM_HEARTBEAT_MS: '500', CC_DM_HEARTBEAT_EXPIRY_MS: '1500' };
    // Two machines whose clocks disagree: one runs five minutes slow, the other five minutes fast.
    const h = tempHome();
    cleanups.push(h.cleanup);
    const clock = (ms: number) => {
      const f = join(h.home, `clock${ms}.mjs`);
      writeFileSync(f, `const now = Date.now; Date.now = () => now() + (${ms});\n`);
      return ['--import', f];
    };
    const watcher = await w.start('clock-watcher', 'host-a', hb);
    const slow = await w.start('slow', 'host-slow', hb, clock(-300_000));
    const fast = await w.start('fast', 'host-fast', hb, clock(300_000));
    await sleep(2_000); // past the expiry: only heartbeats keep them alive now
    const names = async () => (await watcher.call('who')).body.sessions.map((s: any) => s.name) as string[];
    const seen = await names();
    assert.ok(seen.includes('slow'), `a slow clock does not make a live host look dead (${seen.join(', ')})`);
    assert.ok(seen.includes('fast'), `nor a fast one (${seen.join(', ')})`);
    // A frozen fast-clock host must still expire (its last beat does not look like the future).
    process.kill(fast.pid!, 'SIGSTOP');
    const t0 = Date.now();
    while ((await names()).includes('fast') && Date.now() - t0 < 10_000) await sleep(200);
    assert.ok(!(await names()).includes('fast'), 'the frozen fast-clock host expired');
    assert.ok((await names()).includes('slow'));
    process.kill(fast.pid!, 'SIGKILL');
    await slow.close();
  });
});
