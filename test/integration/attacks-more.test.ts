/**
 * Issue 13, going further than the review: more ways a model acting through cc-dm's tools might
 * try to borrow authority, read what is not its own, or fill the store. Each must fail.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { stores } from '../support/stores.js';
import { World } from '../support/world.js';

for (const fx of stores()) {
  describe(`more attacks through the tools [${fx.kind}]`, () => {
    let w: World;
    before(async () => { w = await World.create(fx); });
    after(async () => { await w.close(); });

    test('a session cannot squat the approver name its own launch names (before the approver starts)', async () => {
      const worker = await w.start('m-worker', { env: { CC_DM_PERMISSION_RELAY: '1', CC_DM_PERMISSION_APPROVER: 'm-boss' } });
      const r = await worker.call('register', { name: 'M-Boss', role: 'approver' });
      assert.equal(r.body.code, 'E_NAME_RESERVED');
      assert.match(r.body.error, /permission approver named at launch/);
      const boss = await w.start('m-boss');
      assert.equal((await boss.call('who')).body.you, 'm-boss', 'the real approver starts under its own name');
    });

    test('mail to a name no session can ever hold is refused, not queued (no mailbox for "human.x" or "system-1")', async () => {
      const s = await w.start('m-sprayer');
      for (const to of ['human.x', 'System-1', 'cc-dm.relay', 'everyone']) {
        const r = await s.call('dm', { to, content: 'hello', queue_if_unknown: true });
        assert.equal(r.isError, true, to);
        assert.equal(r.body.code, 'E_INVALID', to);
      }
      const names = w.cli(['who', '--all', '--json']).json.map((x: any) => x.name.toLowerCase());
      assert.ok(!names.some((n: string) => /^(human|system|cc-dm)[._-]/.test(n)), names.join(', '));
    });

    test('spraying mail at new names is bounded by the same quota as any queued mail', async () => {
      const s = await w.start('m-spray2', { env: { CC_DM_QUEUE_MAX_MESSAGES: '3' } });
      for (let i = 0; i < 3; i++) assert.equal((await s.call('dm', { to: `m-nobody-${i}`, content: 'x', queue_if_unknown: true })).isError, false);
      const r = await s.call('dm', { to: 'm-nobody-3', content: 'x', queue_if_unknown: true });
      assert.equal(r.body.code, 'E_QUOTA');
      assert.equal((await s.call('broadcast', { content: 'and a broadcast' })).isError, true, 'a broadcast counts each recipient too');
    });

    test('history, search and status never reach a conversation the session is not in', async () => {
      const a = await w.start('m-a');
      const b = await w.start('m-b');
      const snoop = await w.start('m-snoop');
      const sent = await a.call('dm', { to: 'm-b', content: 'quarterly numbers: zebra-7731', thread_id: 'm-private' });
      await b.waitFor((p) => p.pushes.length === 1, 10_000, 'the dm');
      assert.deepEqual((await snoop.call('history', { query: 'zebra' })).body.messages, []);
      assert.deepEqual((await snoop.call('history', { thread_id: 'm-private' })).body.messages, []);
      assert.deepEqual((await snoop.call('history', { peer: 'm-a' })).body.messages, []);
      assert.equal((await snoop.call('status', { message_id: sent.body.message_id })).body.code, 'E_NOT_FOUND');
      assert.equal((await snoop.call('history', { query: 'zebra', participant: 'm-a' } as any)).body.code, 'E_INVALID', 'no argument selects another participant');
    });

    test('a tagged session\'s roster shows neither live sessions nor mailboxes of other projects', async () => {
      await w.start('m-other-proj', { env: { CC_DM_SESSION_PROJECT: 'm-secret', CC_DM_SESSION_ROLE: 'payroll' } });
      const t = await w.start('m-tagged', { env: { CC_DM_SESSION_PROJECT: 'm-public' } });
      const who = (await t.call('who')).body;
      const all = JSON.stringify(who);
      assert.doesNotMatch(all, /m-other-proj|m-secret|payroll/);
    });
  });
}
