/**
 * Delivery in-process: time to live (backdated on the world's clock, not slept out), receipts,
 * Claude Code's listening moment, a client that does not show pushes, pipelined calls, prune.
 * What needs processes (crash, contention, stopped or killed sessions, push visibility from
 * Claude Code's command line) is in test/integration/delivery.test.ts.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { stores } from '../support/stores.js';
import { InProcWorld } from '../support/inproc.js';
import { until } from '../support/wait.js';
import { CORE } from '../../src/bus/core.js';

for (const fx of stores()) {
  describe(`delivery in-process [${fx.kind}]`, () => {
    let w: InProcWorld;
    before(async () => { w = await InProcWorld.create(fx); });
    after(async () => { await w.close(); });

    test('a session ended under it while it pushed (judged dead by a stale heartbeat) does not push that message again when it rejoins', async () => {
      const rx = await w.start('ended-rx');
      const tx = await w.start('ended-tx');
      const got: string[] = [];
      let endIt = true;
      // The client's target, wrapped: the first push ends the session before its mark, as another
      // host's liveness check can.
      await rx.session.activate(
        {
          pushMessage: async (content) => {
            got.push(content);
            if (!endIt) return;
            endIt = false;
            await w.human[CORE].store.endSession(rx.session.row.id, 'heartbeat expired', w.clock.now());
          },
          pushVerdict: async () => {},
        },
        true,
        'test',
      );
      const first = await tx.call('dm', { to: 'ended-rx', content: 'once' });
      await until(() => got.length === 1, 10_000, 'the first push');
      await rx.heartbeat(); // finds itself ended, and rejoins under the same name
      await tx.call('dm', { to: 'ended-rx', content: 'next' });
      await until(() => got.includes('next'), 10_000, 'the push after the rejoin');
      assert.deepEqual(got, ['once', 'next'], 'the message the client already has is not pushed again');
      const st = (await tx.call('status', { message_id: first.body.message_id })).body.recipients[0];
      assert.equal(st.state, 'delivered', 'and it is marked delivered after the rejoin');
    });

    test('mail to a session that is down is queued, and expires after its time to live, visibly to the sender', async () => {
      const down = await w.start('sleeper');
      await down.close();
      const s = await w.start('ttl-sender');
      const kept = await s.call('dm', { to: 'sleeper', content: 'kept', ttl_s: 3600 });
      assert.equal(kept.body.state, 'queued');
      assert.equal(kept.body.recipient_online, false);
      assert.match(kept.body.note, /waits in its mailbox/);
      const short = await s.call('dm', { to: 'sleeper', content: 'too late', ttl_s: 10 });
      const state = async () => (await s.call('status', { message_id: short.body.message_id })).body.recipients[0];
      w.clock.advance(8_000);
      assert.equal((await state()).state, 'queued', 'not before its time to live');
      w.clock.advance(3_000);
      const st = await state();
      assert.equal(st.state, 'expired', 'past its time to live');
      assert.ok(st.expired_at);
      assert.match(st.expire_reason, /time to live/);
      const back = await w.start('sleeper');
      await back.waitFor((p) => p.pushes.length >= 1, 10_000, 'the kept message');
      assert.deepEqual(back.pushes.map((p) => p.content), ['kept'], 'the expired one is never delivered');
      const log = await w.human.history({ participant: 'sleeper', limit: 50 });
      assert.ok(log.some((m) => m.content === 'too late' && m.recipients[0]!.state === 'expired'), 'expired mail stays in history');
    });

    test('for Claude Code, waiting mail is pushed only once it listens: after its first tools/list', async () => {
      const first = await w.start('late-listener');
      await first.close();
      const s = await w.start('early-sender');
      await s.call('dm', { to: 'late-listener', content: 'waiting for you' });
      const cc = await w.start('late-listener', { clientName: 'claude-code' });
      // Nothing arrives before tools/list (Claude Code drops pushes until it has registered its
      // handler, just after that call); the mail stays queued meanwhile.
      const who = await s.call('who');
      assert.equal(cc.pushes.length, 0);
      assert.ok(who.body.sessions.some((x: any) => x.name === 'late-listener'));
      const listedAt = performance.now();
      await cc.client.listTools();
      await cc.waitFor((p) => p.pushes.length === 1, 10_000, 'the waiting mail after tools/list');
      assert.ok(cc.pushes[0]!.at > listedAt);
      assert.equal(cc.pushes[0]!.content, 'waiting for you');
    });

    test('receipts: status and the trace show queued, delivered and replied with their times', async () => {
      const a = await w.start('rcpt-a');
      const b = await w.start('rcpt-b');
      const r = await a.call('dm', { to: 'rcpt-b', content: 'question?', thread_id: 'q1' });
      await b.waitFor((p) => p.pushes.length === 1, 10_000, 'the question');
      await until(async () => (await w.human.trace(r.body.message_id)).recipients[0]!.state === 'delivered', 5000, 'delivered');
      await b.call('dm', { to: 'rcpt-a', content: 'answer', thread_id: 'q1' });
      const t = await w.human.trace(r.body.message_id);
      const d = t.recipients[0]! as unknown as Record<string, string>;
      assert.equal(d.state, 'replied');
      for (const k of ['queued_at', 'delivered_at', 'replied_at']) assert.ok(Date.parse(d[k]!) > 0, k);
      assert.equal(d.delivered_via, 'push');
      assert.equal((await a.call('status', { message_id: r.body.message_id })).body.recipients[0].state, 'replied', 'the sender sees it too');
      // (cc-dm trace's text and its exit code 4 are the CLI's: test/integration/cli-read and cli-usage.)
      await assert.rejects(w.human.trace('m_nope'), (e: any) => e.code === 'E_NOT_FOUND');
      const other = await w.start('rcpt-c');
      assert.equal((await other.call('status', { message_id: r.body.message_id })).isError, true, 'a stranger cannot read the receipt');
    });

    test('pipelined calls (all sent at once) are stored together yet answered as if each ran alone, in call order', async () => {
      const rcv = await w.start('pipe-rcv');
      const s = await w.start('pipe-src');
      const calls: Promise<{ body: any; isError: boolean }>[] = [];
      for (let j = 0; j < 300; j++) {
        calls.push(s.call('dm', { to: 'pipe-rcv', content: `p${j}` }));
        if (j === 100) {
          // Mail for a name nobody has used makes it a mailbox: the next call, in the same burst,
          // may count on it; a name that does not exist fails alone.
          calls.push(s.call('dm', { to: 'pipe-later', content: 'first', queue_if_unknown: true }));
          calls.push(s.call('dm', { to: 'pipe-later', content: 'second' }));
          calls.push(s.call('dm', { to: 'pipe-nobody', content: 'lost?' }));
        }
      }
      const results = await Promise.all(calls);
      const failed = results.filter((r) => r.isError);
      assert.equal(failed.length, 1, JSON.stringify(failed.map((r) => r.body)));
      assert.equal(failed[0]!.body.code, 'E_UNKNOWN_RECIPIENT');
      const later = results.filter((r) => !r.isError && r.body.to === 'pipe-later');
      assert.deepEqual(later.map((r) => r.body.recipient_online), [false, false]);

      await rcv.waitFor((p) => p.pushes.length >= 300, 60_000, '300 pipelined dms');
      assert.deepEqual(rcv.pushes.map((p) => p.content), Array.from({ length: 300 }, (_, j) => `p${j}`));
      const ids = results.filter((r) => !r.isError && r.body.to === 'pipe-rcv').map((r) => r.body.message_id);
      assert.deepEqual(rcv.pushes.map((p) => p.meta.message_id), ids, 'each answer names the message its call stored');
      const waiting = await w.start('pipe-later');
      await waiting.waitFor((p) => p.pushes.length >= 2, 15_000, 'the mailbox of a name born in the burst');
      assert.deepEqual(waiting.pushes.map((p) => p.content), ['first', 'second']);
    });

    test('a Claude Code that does not show pushes: mail stays queued, tool results say so, inbox pulls it', async () => {
      const blind = await w.start('blind', { channel: false });
      const s = await w.start('to-blind');
      const who = await s.call('who');
      assert.equal(who.body.sessions.find((x: any) => x.name === 'blind').can_receive_push, false);
      const r = await s.call('dm', { to: 'blind', content: 'can you see me?' });
      assert.equal(r.body.recipient_online, true);
      assert.equal(r.body.recipient_can_receive_push, false);
      assert.match(r.body.note, /does not show channel pushes/);
      const own = await blind.call('who');
      assert.match(own.body.mail_waiting, /1 message\(s\) wait for you: call the inbox tool/);
      assert.equal((await w.human.trace(r.body.message_id)).recipients[0]!.state, 'queued');
      assert.equal(blind.pushes.length, 0);
      const inbox = await blind.call('inbox');
      assert.equal(inbox.body.messages.length, 1);
      assert.equal(inbox.body.messages[0].content, 'can you see me?');
      assert.equal(inbox.body.messages[0].from_session, 'to-blind');
      assert.equal(inbox.body.still_waiting, 0);
      const t = (await w.human.trace(r.body.message_id)).recipients[0]!;
      assert.equal(t.state, 'delivered');
      assert.equal(t.delivered_via, 'pull');
      assert.equal((await blind.call('inbox')).body.messages.length, 0, 'pulled once');
    });

    // Last: it prunes the history of every test before it.
    test('prune drops history past the retention but never mail still waiting', async () => {
      const s = await w.start('pruner');
      const gone = await w.start('gone-for-good');
      await gone.close();
      const waiting = await s.call('dm', { to: 'gone-for-good', content: 'still waiting' });
      // As cc-dm prune does it (its output and exit code: test/integration/cli-read).
      await w.human.expire();
      const p = await w.human.prune(0);
      assert.ok(p.messages > 0);
      assert.equal((await w.human.trace(waiting.body.message_id)).recipients[0]!.state, 'queued');
      const left = await w.human.history({ limit: 10000 });
      assert.ok(left.some((m) => m.message_id === waiting.body.message_id));
      for (const m of left) assert.ok(m.recipients.some((d) => d.state === 'queued'), `only waiting mail is left (${m.content})`);
    });
  });
}
