/**
 * The permission relay in-process: only the approver named at launch (holding that name from its
 * launch) or the human answers. The human's CLI commands (approvals, approve, deny: their exit
 * codes, and their refusal inside Claude Code) are in test/integration/permission.test.ts and
 * cli-human.test.ts.
 *
 * A permission request is a one-way notification: nothing answers it. So a test waits for the
 * request to be recorded (or relayed) before it checks that something did not happen.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { CORE } from '../../src/bus/core.js';
import { answerPermission } from '../../src/bus/relay.js';
import { stores } from '../support/stores.js';
import { InProcWorld, type InProcPeer } from '../support/inproc.js';
import { until } from '../support/wait.js';

const REQUEST = 'notifications/claude/channel/permission_request';

function ask(p: InProcPeer, id: string, tool = 'Bash') {
  return p.notify(REQUEST, { request_id: id, tool_name: tool, description: `run ${tool}`, input_preview: '{"command":"ls"}' });
}

for (const fx of stores()) {
  describe(`permission relay in-process [${fx.kind}]`, () => {
    let w: InProcWorld;
    before(async () => { w = await InProcWorld.create(fx); });
    after(async () => { await w.close(); });

    const worker = (name: string, approver?: string) =>
      w.start(name, { env: { CC_DM_PERMISSION_RELAY: '1', ...(approver ? { CC_DM_PERMISSION_APPROVER: approver } : {}) } });

    /** Waits until the human sees `id` of `requester` pending (the request is recorded). */
    const recorded = (requester: string, id: string) =>
      until(async () => (await w.human.approvals(true)).some((a) => a.request_id === id && a.requester === requester), 10_000, `request ${id} of ${requester} to be recorded`);

    test('a request reaches the approver; its "yes <id>" becomes an allow verdict, consumed, recorded with who gave it', async () => {
      const boss = await w.start('boss');
      const wk = await worker('worker-1', 'Boss');
      assert.deepEqual(wk.client.getServerCapabilities()?.experimental?.['claude/channel/permission'], {});
      await ask(wk, 'abcde');
      await boss.waitFor((p) => p.pushes.some((m) => m.content.includes('abcde')), 10_000, 'the relayed request at the approver');
      const req = boss.pushes.find((m) => m.content.includes('abcde'))!;
      assert.equal(req.meta.from_session, 'worker-1');
      assert.match(req.content, /yes abcde/);
      assert.match(req.content, /Bash/);
      const r = await boss.call('dm', { to: 'worker-1', content: '  YES abcde ' });
      assert.equal(r.isError, false, JSON.stringify(r.body));
      assert.deepEqual(r.body.permission_answered, { request_id: 'abcde', requester: 'worker-1', behavior: 'allow' });
      await wk.waitFor((p) => p.verdicts.length === 1, 10_000, 'the verdict at the worker');
      assert.deepEqual(wk.verdicts.map((v) => [v.request_id, v.behavior]), [['abcde', 'allow']]);
      assert.equal(wk.pushes.length, 0, 'the answer is not delivered as text');
      const all = await w.human.approvals(false);
      const row = all.find((x) => x.request_id === 'abcde' && x.requester === 'worker-1')!;
      assert.equal(row.state, 'allow');
      assert.equal(row.decided_by, 'boss');
      const again = await boss.call('dm', { to: 'worker-1', content: 'yes abcde' });
      assert.equal(again.isError, false, 'once answered, the same text is just a message');
      await wk.waitFor((p) => p.pushes.length === 1, 10_000, 'the plain message');
    });

    test('"no <id>" denies', async () => {
      const boss = await w.start('boss-n');
      const wk = await worker('worker-n', 'boss-n');
      await ask(wk, 'qwert');
      await boss.waitFor((p) => p.pushes.length === 1, 10_000, 'the request');
      await boss.call('dm', { to: 'worker-n', content: 'no QWERT' });
      await wk.waitFor((p) => p.verdicts.length === 1, 10_000, 'the deny verdict');
      assert.equal(wk.verdicts[0]!.behavior, 'deny');
    });

    test('nobody else answers: another session, a register-taken approver name, a variant of the approver', async () => {
      const boss = await w.start('boss-x');
      const wk = await worker('worker-x', 'boss-x');
      const other = await w.start('other-x');
      const twin = await w.start('boss-x'); // runs as boss-x-2
      assert.equal(twin.name, 'boss-x-2');
      await ask(wk, 'zxcvb');
      await boss.waitFor((p) => p.pushes.length === 1, 10_000, 'the request');
      const byOther = await other.call('dm', { to: 'worker-x', content: 'yes zxcvb' });
      assert.equal(byOther.body.code, 'E_FORBIDDEN');
      assert.match(byOther.body.error, /only "boss-x"/);
      const byTwin = await twin.call('dm', { to: 'worker-x', content: 'yes zxcvb' });
      assert.equal(byTwin.body.code, 'E_FORBIDDEN');
      // An approver that is not running: a model renames itself to the approver's name.
      const wk2 = await worker('worker-y', 'ghost-approver');
      const thief = await w.start('thief');
      assert.equal((await thief.call('register', { name: 'ghost-approver', role: 'approver' })).isError, false);
      await ask(wk2, 'asdfg');
      await thief.waitFor((p) => p.pushes.some((m) => m.content.includes('asdfg')), 10_000, 'the request at the renamed session');
      const byThief = await thief.call('dm', { to: 'worker-y', content: 'yes asdfg' });
      assert.equal(byThief.body.code, 'E_FORBIDDEN');
      assert.match(byThief.body.error, /through register, not from your launch environment/);
      assert.equal(wk.verdicts.length + wk2.verdicts.length, 0);
      const pending = (await w.human.approvals(true)).map((x) => x.request_id);
      assert.ok(pending.includes('zxcvb') && pending.includes('asdfg'), 'refused answers leave the requests pending');
      // A reserved approver name cannot even be taken with register.
      assert.equal(await w.human.reserve('boss-r', true), 'boss-r');
      assert.equal((await other.call('register', { name: 'boss-r', role: 'x' })).body.code, 'E_NAME_RESERVED');
    });

    test('the requester never answers itself, even when named as its own approver', async () => {
      const self = await worker('selfish', 'selfish');
      await ask(self, 'poiuy');
      // The request is recorded before anything is checked (a notification has no answer to wait for).
      await recorded('selfish', 'poiuy');
      const [row] = (await w.human.approvals(true)).filter((a) => a.request_id === 'poiuy');
      assert.equal(row!.approver, 'selfish');
      // Through the tools, its "yes" is a dm to itself, refused before it could be a verdict.
      const r = await self.call('dm', { to: 'selfish', content: 'yes poiuy' });
      assert.equal(r.isError, true);
      assert.equal(r.body.code, 'E_INVALID');
      assert.match(r.body.error, /"selfish" is you/);
      // The relay's own guard, behind that one: even handed its own request as the approver's answer, a session refuses.
      const core = self.session.bus[CORE];
      const perm = await core.store.pendingPermission(self.session.key, 'poiuy');
      assert.ok(perm, 'the request is pending');
      await assert.rejects(answerPermission(core, self.session.sender(), perm, 'allow'),
        (e: any) => e.code === 'E_FORBIDDEN' && /a session never answers its own permission request/.test(e.message));
      assert.equal((await w.human.approvals(true)).filter((a) => a.request_id === 'poiuy').length, 1, 'still pending');
      assert.equal(self.verdicts.length, 0);
      // Mail to the approver would have been stored with the request: a later message arrives, and alone.
      const friend = await w.start('selfish-friend');
      await friend.call('dm', { to: 'selfish', content: 'after the request' });
      await self.waitFor((p) => p.pushes.length >= 1, 10_000, 'a message sent after the request');
      assert.deepEqual(self.pushes.map((p) => p.content), ['after the request'], 'a self-approver is not sent its own request');
    });

    test('requests are keyed by requester and id: one answer never closes another session\'s prompt', async () => {
      const boss = await w.start('boss-k');
      const a = await worker('keyed-a', 'boss-k');
      const b = await worker('keyed-b', 'boss-k');
      await ask(a, 'mnbvc');
      await ask(b, 'mnbvc');
      await boss.waitFor((p) => p.pushes.length === 2, 10_000, 'both requests');
      await boss.call('dm', { to: 'keyed-a', content: 'yes mnbvc' });
      await a.waitFor((p) => p.verdicts.length === 1, 10_000, 'verdict for a');
      // b's request is still pending: the answer to a closed a's prompt only.
      const stillPending = (await w.human.approvals(true)).filter((x) => x.request_id === 'mnbvc').map((x) => x.requester);
      assert.deepEqual(stillPending, ['keyed-b']);
      assert.equal(b.verdicts.length, 0);
      await boss.call('dm', { to: 'keyed-b', content: 'no mnbvc' });
      await b.waitFor((p) => p.verdicts.length === 1, 10_000, 'verdict for b');
      assert.equal(a.verdicts[0]!.behavior, 'allow');
      assert.equal(b.verdicts[0]!.behavior, 'deny');
      assert.equal(a.verdicts.length, 1);
    });

    test('an approver that is down gets the request when it starts', async () => {
      const wk = await worker('worker-late', 'late-boss');
      await ask(wk, 'lkjhg');
      await recorded('worker-late', 'lkjhg');
      const boss = await w.start('late-boss');
      await boss.waitFor((p) => p.pushes.some((m) => m.content.includes('lkjhg')), 10_000, 'the queued request');
      await boss.call('dm', { to: 'worker-late', content: 'yes lkjhg' });
      await wk.waitFor((p) => p.verdicts.length === 1, 10_000, 'the verdict');
    });

    test('without the relay a server declares no permission capability and ignores requests', async () => {
      const plain = await w.start('plain');
      const relayed = await worker('plain-relayed');
      assert.equal(plain.client.getServerCapabilities()?.experimental?.['claude/channel/permission'], undefined);
      await ask(plain, 'rtyui');
      assert.equal((await plain.call('who')).isError, false);
      // A request to a server with the relay on, sent after, is recorded: by then the first one would have been too.
      await ask(relayed, 'rtyuj');
      await recorded('plain-relayed', 'rtyuj');
      assert.ok(!(await w.human.approvals(false)).some((x) => x.request_id === 'rtyui'));
    });
  });
}
