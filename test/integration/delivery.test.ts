/**
 * Delivery you can trust (issue 4) where processes are needed: crash, contention, stopped and
 * killed sessions, push visibility from Claude Code's command line. Time to live, receipts,
 * pipelining, inbox and prune are tested in-process: test/inproc/delivery.test.ts.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { stores } from '../support/stores.js';
import { World, exited } from '../support/world.js';
import { until } from '../support/wait.js';
import { fakeClaude } from '../support/launcher.js';

for (const fx of stores()) {
  describe(`delivery [${fx.kind}]`, () => {
    let w: World;
    before(async () => { w = await World.create(fx); });
    after(async () => { await w.close(); });

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
