/** Delivery you can trust (issue 4): offline mail, restart, crash, contention, receipts, visibility. */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { stores } from '../support/stores.js';
import { World, exited, until } from '../support/world.js';
import { fakeClaude } from '../support/launcher.js';

for (const fx of stores()) {
  describe(`delivery [${fx.kind}]`, () => {
    let w: World;
    before(async () => { w = await World.create(fx); });
    after(async () => { await w.close(); });

    test('mail to a session that is down is queued, and expires after its time to live, visibly to the sender', async () => {
      const down = await w.start('sleeper');
      await down.close();
      const s = await w.start('ttl-sender');
      const kept = await s.call('dm', { to: 'sleeper', content: 'kept', ttl_s: 3600 });
      assert.equal(kept.body.state, 'queued');
      assert.equal(kept.body.recipient_online, false);
      assert.match(kept.body.note, /waits in its mailbox/);
      const short = await s.call('dm', { to: 'sleeper', content: 'too late', ttl_s: 10 });
      await until(async () => (await s.call('status', { message_id: short.body.message_id })).body.recipients[0].state === 'expired', 20_000, 'the short message to expire');
      const st = await s.call('status', { message_id: short.body.message_id });
      assert.ok(st.body.recipients[0].expired_at);
      assert.match(st.body.recipients[0].expire_reason, /time to live/);
      const back = await w.start('sleeper');
      await back.waitFor((p) => p.pushes.length >= 1, 10_000, 'the kept message');
      assert.deepEqual(back.pushes.map((p) => p.content), ['kept'], 'the expired one is never delivered');
      const log = w.cli(['log', '--peer', 'sleeper', '--json']);
      assert.ok(log.json.some((m: any) => m.content === 'too late' && m.recipients[0].state === 'expired'), 'expired mail stays in history');
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

    test('receipts: status and cc-dm trace show queued, delivered and replied with their times', async () => {
      const a = await w.start('rcpt-a');
      const b = await w.start('rcpt-b');
      const r = await a.call('dm', { to: 'rcpt-b', content: 'question?', thread_id: 'q1' });
      await b.waitFor((p) => p.pushes.length === 1, 10_000, 'the question');
      await until(() => w.cli(['trace', r.body.message_id, '--json']).json.recipients[0].state === 'delivered', 5000, 'delivered');
      await b.call('dm', { to: 'rcpt-a', content: 'answer', thread_id: 'q1' });
      const t = w.cli(['trace', r.body.message_id, '--json']).json;
      assert.equal(t.recipients[0].state, 'replied');
      for (const k of ['queued_at', 'delivered_at', 'replied_at']) assert.ok(Date.parse(t.recipients[0][k]) > 0, k);
      assert.equal(t.recipients[0].delivered_via, 'push');
      const human = w.cli(['trace', r.body.message_id]);
      assert.equal(human.code, 0);
      assert.match(human.stdout, /rcpt-b\s+replied/);
      assert.equal(w.cli(['trace', 'm_nope']).code, 4);
      const other = await w.start('rcpt-c');
      assert.equal((await other.call('status', { message_id: r.body.message_id })).isError, true, 'a stranger cannot read the receipt');
    });

    test('crash: a recipient stopped while 300 messages queue, killed a third of the way, gets all 300 across two lives', async () => {
      const rcv = await w.start('crashy');
      const snd = await w.start('crash-sender');
      process.kill(rcv.pid!, 'SIGSTOP');
      const pad = 'x'.repeat(2000);
      const ids: string[] = [];
      for (let i = 0; i < 300; i++) {
        const r = await snd.call('dm', { to: 'crashy', content: `${i} ${pad}` });
        assert.equal(r.isError, false);
        ids.push(r.body.message_id);
      }
      process.kill(rcv.pid!, 'SIGCONT');
      await rcv.waitFor((p) => p.pushes.length >= 100, 20_000, 'a third of the messages');
      process.kill(rcv.pid!, 'SIGKILL');
      await until(() => exited(rcv.pid!), 5000, 'the kill');
      const firstLife = rcv.pushes.map((p) => p.meta.message_id);
      const back = await w.start('crashy');
      const seen = () => new Set([...firstLife, ...back.pushes.map((p) => p.meta.message_id)]).size;
      await until(() => seen() === 300, 30_000, 'all 300 messages across both lives');
      const total = firstLife.length + back.pushes.length;
      const duplicates = total - 300;
      assert.ok(duplicates <= 5, `at most the handful in flight is pushed twice (got ${duplicates})`);
      const secondLife = new Set(back.pushes.map((p) => p.meta.message_id));
      const firstOrder = firstLife.map((id) => ids.indexOf(id));
      assert.deepEqual(firstOrder, [...firstOrder].sort((x, y) => x - y), 'order kept');
      // Nothing the first life had marked delivered is pushed again.
      const twice = [...secondLife].filter((id) => firstLife.includes(id));
      assert.ok(twice.length <= 5, `re-pushed after the restart: ${twice.length}`);
      const log = w.cli(['log', '--peer', 'crashy', '-n', '1000', '--json']).json;
      assert.equal(log.filter((m: any) => m.recipients[0].state === 'delivered').length, 300);
    });

    test('contention: 8 senders x 250 dms to one recipient, then 2,000 back to back: no errors, nothing lost or doubled, order kept', async () => {
      const rcv = await w.start('fan-in');
      const senders = await Promise.all(Array.from({ length: 8 }, (_, i) => w.start(`fan-${i}`)));
      const errors: string[] = [];
      await Promise.all(senders.map(async (s, i) => {
        for (let j = 0; j < 250; j++) {
          const r = await s.call('dm', { to: 'fan-in', content: `${i}:${j}` });
          if (r.isError) errors.push(r.body.error);
        }
      }));
      assert.deepEqual(errors, []);
      await rcv.waitFor((p) => p.pushes.length >= 2000, 60_000, '2,000 fan-in messages');
      const contents = rcv.pushes.map((p) => p.content);
      assert.equal(new Set(contents).size, 2000, 'no duplicates');
      for (let i = 0; i < 8; i++) {
        const seq = contents.filter((c) => c.startsWith(`${i}:`)).map((c) => Number(c.split(':')[1]));
        assert.deepEqual(seq, Array.from({ length: 250 }, (_, j) => j), `order of sender ${i}`);
      }
      const solo = senders[0]!;
      const rcv2 = await w.start('back-to-back');
      const soloErrors: string[] = [];
      for (let j = 0; j < 2000; j++) {
        const r = await solo.call('dm', { to: 'back-to-back', content: `b${j}` });
        if (r.isError) soloErrors.push(r.body.error);
      }
      assert.deepEqual(soloErrors, []);
      await rcv2.waitFor((p) => p.pushes.length >= 2000, 60_000, '2,000 back-to-back messages');
      assert.deepEqual(rcv2.pushes.map((p) => p.content), Array.from({ length: 2000 }, (_, j) => `b${j}`));
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

    test('broadcast keeps the same guarantees: one row per recipient, a stopped recipient gets it when resumed', async () => {
      const s = await w.start('bc-src', { env: { CC_DM_SESSION_PROJECT: 'bcg' } });
      const r1 = await w.start('bc-r1', { env: { CC_DM_SESSION_PROJECT: 'bcg' } });
      const r2 = await w.start('bc-r2', { env: { CC_DM_SESSION_PROJECT: 'bcg' } });
      process.kill(r2.pid!, 'SIGSTOP');
      const r = await s.call('broadcast', { content: 'to both' });
      await r1.waitFor((p) => p.pushes.length === 1, 10_000, 'broadcast at r1');
      const mid = w.cli(['trace', r.body.message_id, '--json']).json.recipients;
      assert.deepEqual(mid.map((d: any) => [d.to, d.state]).sort(), [['bc-r1', 'delivered'], ['bc-r2', 'queued']]);
      process.kill(r2.pid!, 'SIGCONT');
      await r2.waitFor((p) => p.pushes.length === 1, 10_000, 'broadcast at r2 after resume');
      assert.equal(r2.pushes[0]!.meta.message_id, r.body.message_id);
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
      assert.equal(w.cli(['trace', r.body.message_id, '--json']).json.recipients[0].state, 'queued');
      assert.equal(blind.pushes.length, 0);
      const inbox = await blind.call('inbox');
      assert.equal(inbox.body.messages.length, 1);
      assert.equal(inbox.body.messages[0].content, 'can you see me?');
      assert.equal(inbox.body.messages[0].from_session, 'to-blind');
      assert.equal(inbox.body.still_waiting, 0);
      const t = w.cli(['trace', r.body.message_id, '--json']).json.recipients[0];
      assert.equal(t.state, 'delivered');
      assert.equal(t.delivered_via, 'pull');
      assert.equal((await blind.call('inbox')).body.messages.length, 0, 'pulled once');
    });

    test('push visibility is read from the Claude Code command line', async () => {
      const launcher = fakeClaude();
      const withFlag = await w.start('cc-flag', { launcher: { command: launcher, args: ['--dangerously-load-development-channels', 'server:ccdm'] } });
      const noFlag = await w.start('cc-noflag', { launcher: { command: launcher, args: ['--model', 'x'] } });
      const s = await w.start('cc-sender');
      const roster = (await s.call('who')).body.sessions;
      assert.equal(roster.find((x: any) => x.name === 'cc-flag').can_receive_push, true);
      assert.equal(roster.find((x: any) => x.name === 'cc-noflag').can_receive_push, false, 'the client declares the capability, but Claude Code without the flag drops pushes');
      await s.call('dm', { to: 'cc-flag', content: 'seen' });
      const hidden = await s.call('dm', { to: 'cc-noflag', content: 'would be dropped' });
      await withFlag.waitFor((p) => p.pushes.length === 1, 10_000, 'push through the flagged launcher');
      assert.equal(w.cli(['trace', hidden.body.message_id, '--json']).json.recipients[0].state, 'queued');
      assert.equal(noFlag.pushes.length, 0);
    });

    test('prune drops history past the retention but never mail still waiting', async () => {
      const s = await w.start('pruner');
      const gone = await w.start('gone-for-good');
      await gone.close();
      const waiting = await s.call('dm', { to: 'gone-for-good', content: 'still waiting' });
      const p = w.cli(['prune', '--older-than', '0', '--json']);
      assert.equal(p.code, 0, p.stderr);
      assert.ok(p.json.messages > 0);
      assert.equal(w.cli(['trace', waiting.body.message_id, '--json']).json.recipients[0].state, 'queued');
      const left = w.cli(['log', '-n', '10000', '--json']).json;
      assert.ok(left.some((m: any) => m.message_id === waiting.body.message_id));
      for (const m of left) assert.ok(m.recipients.some((d: any) => d.state === 'queued'), `only waiting mail is left (${m.content})`);
    });

    test('a sender killed mid-send never leaves a partial message', async () => {
      const rcv = await w.start('partial-rcv');
      const s = await w.start('partial-snd');
      const body = 'z'.repeat(30_000);
      const calls = Array.from({ length: 40 }, (_, i) => s.call('dm', { to: 'partial-rcv', content: `${i}|${body}|end` }).catch(() => null));
      await until(() => rcv.pushes.length >= 3, 20_000, 'a few messages before the kill');
      process.kill(s.pid!, 'SIGKILL');
      await Promise.all(calls);
      const log = w.cli(['log', '--peer', 'partial-snd', '-n', '1000', '--json']).json;
      for (const m of log) {
        assert.match(m.content, /^\d+\|z{30000}\|end$/);
        assert.equal(m.recipients.length, 1, 'every stored message has its delivery row');
      }
      await until(() => rcv.pushes.length === log.length, 10_000, 'every stored message delivered');
      for (const p of rcv.pushes) assert.match(p.content, /\|end$/);
    });
  });
}
