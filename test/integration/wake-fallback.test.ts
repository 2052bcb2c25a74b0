/**
 * The wake path only shortens the wait: when a doorbell is lost, the fallback poll still delivers.
 * Store-independent cases run on every store; the Unix-socket cases (socket file removed, ring
 * dropped, stale socket of a killed process) on SQLite, whose doorbell that is.
 *
 * Servers run with a short poll where the fallback is what is tested, and with a poll far beyond
 * the test's wait where the doorbell alone must deliver.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, unlinkSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { stores } from '../support/stores.js';
import { World, exited } from '../support/world.js';
import { until } from '../support/wait.js';
import { doorbellDir } from '../../src/wake/unix-socket.js';
import type { Peer } from '../../src/channel/peer.js';

const FAST_POLL = { CC_DM_POLL_MS: '200' };
/** A poll that never runs within a test's wait: only the doorbell can deliver. */
const NO_POLL = { CC_DM_POLL_MS: '600000' };

async function dmArrives(from: Peer, to: Peer, toName: string, content: string, ms: number): Promise<number> {
  const t0 = Date.now();
  const r = await from.call('dm', { to: toName, content });
  assert.equal(r.isError, false, JSON.stringify(r.body));
  await to.waitFor((p) => p.pushes.some((x) => x.content === content), ms, `"${content}" at ${toName}`);
  return Date.now() - t0;
}

for (const fx of stores()) {
  describe(`wake: doorbell and fallback [${fx.kind}]`, () => {
    let w: World;
    before(async () => { w = await World.create(fx); });
    after(async () => { await w.close(); });

    test('the doorbell alone delivers at once (no poll within the wait)', async () => {
      const a = await w.start('ring-a', { env: NO_POLL });
      const b = await w.start('ring-b', { env: NO_POLL });
      for (let i = 0; i < 5; i++) await dmArrives(a, b, 'ring-b', `rung ${i}`, 5000);
    });

    test('a recipient that does not listen (a lost ring) still gets its mail by the fallback poll', async () => {
      const a = await w.start('deaf-a', { env: NO_POLL });
      const b = await w.start('deaf-b', { env: { CC_DM_WAKE: '0', ...FAST_POLL } });
      for (let i = 0; i < 3; i++) await dmArrives(a, b, 'deaf-b', `polled ${i}`, 5000);
      const ids = b.pushes.map((p) => p.meta.message_id);
      assert.equal(new Set(ids).size, ids.length, 'no duplicates');
    });

    test('a sender with the wake path off still reaches a listening recipient (its poll runs)', async () => {
      const a = await w.start('mute-a', { env: { CC_DM_WAKE: '0' } });
      const b = await w.start('mute-b', { env: FAST_POLL });
      await dmArrives(a, b, 'mute-b', 'no ring was sent', 5000);
    });
  });
}

const sqlite = stores().find((s) => s.kind === 'sqlite');
if (sqlite) {
  describe('wake: lost Unix-socket doorbells [sqlite]', () => {
    let w: World;
    let db: Database.Database;
    before(async () => {
      w = await World.create(sqlite);
      const warm = await w.start('warm-up'); // creates the store
      db = new Database(join(w.home, 'bus.db'));
      db.pragma('busy_timeout = 5000');
      void warm;
    });
    after(async () => { db.close(); await w.close(); });

    const doorbellOf = (name: string): string =>
      (db.prepare('SELECT doorbell FROM sessions WHERE name_key = ? AND ended_at IS NULL').get(name) as { doorbell: string }).doorbell;

    test("the recipient's socket file removed: the fallback poll delivers", async () => {
      const a = await w.start('gone-a');
      const b = await w.start('gone-b', { env: FAST_POLL });
      const sock = doorbellOf('gone-b');
      assert.ok(existsSync(sock), 'the socket exists before');
      unlinkSync(sock);
      for (let i = 0; i < 3; i++) await dmArrives(a, b, 'gone-b', `no socket ${i}`, 5000);
    });

    test('a ring dropped (the doorbell recorded for the session points nowhere): the fallback poll delivers', async () => {
      const a = await w.start('drop-a');
      const b = await w.start('drop-b', { env: FAST_POLL });
      const nowhere = join(doorbellDir(w.home), 'nowhere.sock');
      db.prepare('UPDATE sessions SET doorbell = ? WHERE name_key = ? AND ended_at IS NULL').run(nowhere, 'drop-b');
      for (let i = 0; i < 3; i++) await dmArrives(a, b, 'drop-b', `dropped ${i}`, 5000);
      assert.equal(existsSync(nowhere), false, 'ringing never creates a socket file');
    });

    test('a ring to a stale socket left by a SIGKILLed process is refused harmlessly; the fallback poll delivers', async () => {
      const a = await w.start('stale-a');
      const dead = await w.start('stale-dead');
      const staleSock = doorbellOf('stale-dead');
      process.kill(dead.pid!, 'SIGKILL');
      await until(() => exited(dead.pid!), 5000, 'the kill');
      assert.ok(existsSync(staleSock), 'SIGKILL leaves the socket file behind');
      const b = await w.start('stale-b', { env: FAST_POLL });
      db.prepare('UPDATE sessions SET doorbell = ? WHERE name_key = ? AND ended_at IS NULL').run(staleSock, 'stale-b');
      for (let i = 0; i < 3; i++) await dmArrives(a, b, 'stale-b', `refused ${i}`, 5000);
    });

    test('a session killed and restarted under its name is rung at its new doorbell, not the stale one', async () => {
      const a = await w.start('back-a', { env: NO_POLL });
      const first = await w.start('back-b', { env: NO_POLL });
      const oldSock = doorbellOf('back-b');
      await dmArrives(a, first, 'back-b', 'before the kill', 5000);
      process.kill(first.pid!, 'SIGKILL');
      await until(() => exited(first.pid!), 5000, 'the kill');
      const again = await w.start('back-b', { env: NO_POLL });
      assert.notEqual(doorbellOf('back-b'), oldSock, 'a new incarnation has a new doorbell');
      await dmArrives(a, again, 'back-b', 'after the restart', 5000);
    });

    test('stale socket files of killed sessions are cleaned up at the next start; live ones are kept', async () => {
      const live = await w.start('clean-live');
      const liveSock = doorbellOf('clean-live');
      const victim = await w.start('clean-dead');
      const staleSock = doorbellOf('clean-dead');
      process.kill(victim.pid!, 'SIGKILL');
      await until(() => exited(victim.pid!), 5000, 'the kill');
      // Files younger than a few seconds are spared (their session may be committing its row):
      // backdate instead of waiting.
      const old = new Date(Date.now() - 60_000);
      utimesSync(staleSock, old, old);
      utimesSync(liveSock, old, old);
      await w.start('clean-next');
      await until(() => !existsSync(staleSock), 5000, 'the stale socket to be removed');
      assert.ok(existsSync(liveSock), "a live session's socket is never removed, however old");
      const b = await w.start('clean-b', { env: NO_POLL });
      await dmArrives(live, b, 'clean-b', 'still rings', 5000);
      await dmArrives(b, live, 'clean-live', 'and is rung', 5000);
    });

    test('a server that stops removes its own socket file', async () => {
      const s = await w.start('tidy');
      const sock = doorbellOf('tidy');
      const before = readdirSync(doorbellDir(w.home)).length;
      await s.close();
      await until(() => !existsSync(sock), 5000, 'the socket file to go');
      assert.equal(readdirSync(doorbellDir(w.home)).length, before - 1);
    });
  });
}
