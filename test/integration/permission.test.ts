/** The permission relay: only the approver named at launch (holding that name from its launch) or the human answers. */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { stores } from '../support/stores.js';
import { World, until } from '../support/world.js';
import type { Peer } from '../../src/channel/peer.js';

const REQUEST = 'notifications/claude/channel/permission_request';

function ask(p: Peer, id: string, tool = 'Bash') {
  return p.notify(REQUEST, { request_id: id, tool_name: tool, description: `run ${tool}`, input_preview: '{"command":"ls"}' });
}

for (const fx of stores()) {
  describe(`permission relay [${fx.kind}]`, () => {
    let w: World;
    before(async () => { w = await World.create(fx); });
    after(async () => { await w.close(); });

    const worker = (name: string, approver?: string) =>
      w.start(name, { env: { CC_DM_PERMISSION_RELAY: '1', ...(approver ? { CC_DM_PERMISSION_APPROVER: approver } : {}) } });

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
      const all = w.cli(['approvals', '--all', '--json']);
      const row = all.json.find((x: any) => x.request_id === 'abcde' && x.requester === 'worker-1');
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
      const pending = w.cli(['approvals', '--json']).json.map((x: any) => x.request_id);
      assert.ok(pending.includes('zxcvb') && pending.includes('asdfg'), 'refused answers leave the requests pending');
      // A reserved approver name cannot even be taken with register.
      assert.equal(w.cli(['reserve', 'boss-r']).code, 0);
      assert.equal((await other.call('register', { name: 'boss-r', role: 'x' })).body.code, 'E_NAME_RESERVED');
    });

    test('the requester never answers itself, even when named as its own approver', async () => {
      const self = await worker('selfish', 'selfish');
      await ask(self, 'poiuy');
      const r = await self.call('dm', { to: 'selfish', content: 'yes poiuy' });
      assert.equal(r.isError, true);
      assert.equal(self.verdicts.length, 0);
      assert.equal(self.pushes.length, 0, 'a self-approver is not sent its own request');
    });

    test('with no approver the request waits for the human: cc-dm approvals, approve, deny', async () => {
      const wk = await worker('solo');
      const other = await worker('solo-2');
      await ask(wk, 'hjklm');
      await ask(other, 'hjklm', 'Write');
      await until(() => (w.cli(['approvals', '--json']).json ?? []).filter((x: any) => x.request_id === 'hjklm').length === 2, 10_000, 'two pending requests');
      const list = w.cli(['approvals', '--json']).json.filter((x: any) => x.request_id === 'hjklm');
      assert.deepEqual(list.map((x: any) => x.approver), ['human', 'human']);
      const ambiguous = w.cli(['approve', 'hjklm']);
      assert.equal(ambiguous.code, 2);
      assert.match(ambiguous.stderr, /pending for several sessions.*--from/);
      const inside = w.cli(['approve', 'hjklm', '--from', 'solo'], { CLAUDECODE: '1' });
      assert.equal(inside.code, 3);
      assert.match(inside.stderr, /for the human only/);
      assert.equal(w.cli(['approve', 'hjklm', '--from', 'solo']).code, 0);
      await wk.waitFor((p) => p.verdicts.length === 1, 10_000, 'the human verdict');
      assert.equal(wk.verdicts[0]!.behavior, 'allow');
      assert.equal(w.cli(['deny', 'HJKLM']).code, 0, 'only one left pending: no --from needed');
      await other.waitFor((p) => p.verdicts.length === 1, 10_000, 'the human deny');
      assert.equal(other.verdicts[0]!.behavior, 'deny');
      assert.equal(wk.verdicts.length, 1, 'keyed by requester and id: the deny went to solo-2 only');
      const rows = w.cli(['approvals', '--all', '--json']).json.filter((x: any) => x.request_id === 'hjklm');
      assert.deepEqual(rows.map((x: any) => [x.requester, x.state, x.decided_by]).sort(), [['solo', 'allow', 'human'], ['solo-2', 'deny', 'human']]);
      assert.equal(w.cli(['approve', 'nopee']).code, 4);
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
      await boss.call('dm', { to: 'keyed-b', content: 'no mnbvc' });
      await b.waitFor((p) => p.verdicts.length === 1, 10_000, 'verdict for b');
      assert.equal(a.verdicts[0]!.behavior, 'allow');
      assert.equal(b.verdicts[0]!.behavior, 'deny');
      assert.equal(a.verdicts.length, 1);
    });

    test('an approver that is down gets the request when it starts', async () => {
      const wk = await worker('worker-late', 'late-boss');
      await ask(wk, 'lkjhg');
      const boss = await w.start('late-boss');
      await boss.waitFor((p) => p.pushes.some((m) => m.content.includes('lkjhg')), 10_000, 'the queued request');
      await boss.call('dm', { to: 'worker-late', content: 'yes lkjhg' });
      await wk.waitFor((p) => p.verdicts.length === 1, 10_000, 'the verdict');
    });

    test('without the relay a server declares no permission capability and ignores requests', async () => {
      const plain = await w.start('plain');
      assert.equal(plain.client.getServerCapabilities()?.experimental?.['claude/channel/permission'], undefined);
      await ask(plain, 'rtyui');
      assert.equal((await plain.call('who')).isError, false);
      assert.ok(!(w.cli(['approvals', '--json']).json ?? []).some((x: any) => x.request_id === 'rtyui'));
    });
  });
}
