/**
 * The human in the loop from the CLI (issue 6): sending as the human, approving and denying,
 * reserving; and every one of them refused inside a Claude Code tool call (CLAUDECODE=1).
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { stores } from '../support/stores.js';
import { World } from '../support/world.js';
import { until } from '../support/wait.js';

const REQUEST = 'notifications/claude/channel/permission_request';

for (const fx of stores()) {
  describe(`cli as the human [${fx.kind}]`, () => {
    let w: World;
    before(async () => { w = await World.create(fx); });
    after(async () => { await w.close(); });

    test('inside Claude Code (CLAUDECODE=1) every human-only command refuses with exit 3, and nothing happens', async () => {
      const p = await w.start('guarded', { env: { CC_DM_PERMISSION_RELAY: '1' } });
      await p.notify(REQUEST, { request_id: 'hhhhh', tool_name: 'Bash', description: 'rm -rf build', input_preview: 'rm -rf build' });
      await until(() => w.cli(['approvals', '--json']).json.some((a: any) => a.request_id === 'hhhhh'), 10_000, 'the request to be recorded');
      for (const args of [['send', 'guarded', 'hi'], ['send', '--broadcast', 'all', 'hands'], ['approve', 'hhhhh'], ['deny', 'hhhhh'],
        ['reserve', 'boss'], ['reserve', '--release', 'boss'], ['console', '--no-open']]) {
        const r = w.cli(args, { CLAUDECODE: '1' });
        assert.equal(r.code, 3, `cc-dm ${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, /for the human only.*CLAUDECODE=1/, `cc-dm ${args.join(' ')} says why`);
      }
      // Read commands are fine inside Claude Code.
      assert.equal(w.cli(['who', '--json'], { CLAUDECODE: '1' }).code, 0);
      assert.equal(w.cli(['log', '--json'], { CLAUDECODE: '1' }).json.length, 0, 'nothing was sent');
      assert.equal(w.cli(['approvals', '--json']).json.find((a: any) => a.request_id === 'hhhhh').state, 'pending', 'nothing was answered');
      assert.equal(p.verdicts.length, 0);
      assert.equal(w.cli(['approve', 'hhhhh', '--json']).code, 0, 'the human, outside Claude Code, can');
      await p.waitFor((x) => x.verdicts.length === 1, 10_000, 'the verdict');
      await p.close();
    });

    test('send delivers as the human (sender_kind human), with --json giving the receipt', async () => {
      const bob = await w.start('bob-h');
      const r = w.cli(['send', 'bob-h', '--thread', 'ops', '--type', 'task', '--priority', 'urgent', 'please', 'rebase', '--json']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.json.success, true);
      assert.match(r.json.message_id, /^m_/);
      assert.equal(r.json.state, 'queued');
      assert.equal(r.json.recipient_online, true);
      await bob.waitFor((p) => p.pushes.length === 1, 10_000, 'the human\'s dm');
      const m = bob.pushes[0]!;
      assert.equal(m.content, 'please rebase');
      assert.equal(m.meta.sender_kind, 'human');
      assert.equal(m.meta.from_session, 'human');
      assert.equal(m.meta.thread_id, 'ops');
      assert.equal(m.meta.priority, 'urgent');
      assert.equal(m.meta.message_type, 'task');
      const plain = w.cli(['send', 'bob-h', 'second']);
      assert.equal(plain.code, 0);
      assert.match(plain.stdout, /^sent /);
      const bad = w.cli(['send', 'bob-h', '--thread', 'no spaces allowed', 'x']);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /thread_id/);
      await bob.close();
    });

    test('send --broadcast reaches live sessions; --project narrows it', async () => {
      const a = await w.start('bc-a', { env: { CC_DM_SESSION_PROJECT: 'alpha' } });
      const b = await w.start('bc-b', { env: { CC_DM_SESSION_PROJECT: 'beta' } });
      const r = w.cli(['send', '--broadcast', '--project', 'alpha', 'alpha', 'only', '--json']);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.json.recipients.map((x: any) => x.name), ['bc-a']);
      await a.waitFor((p) => p.pushes.some((m) => m.content === 'alpha only' && m.meta.sender_kind === 'human'), 10_000, 'the project broadcast');
      const all = w.cli(['send', '-b', 'everyone', 'now', '--json']);
      assert.equal(all.code, 0, all.stderr);
      assert.deepEqual(all.json.recipients.map((x: any) => x.name).sort(), ['bc-a', 'bc-b']);
      await b.waitFor((p) => p.pushes.some((m) => m.content === 'everyone now'), 10_000, 'the broadcast');
      assert.ok(!b.pushes.some((m) => m.content === 'alpha only'), 'the other project did not get it');
      const none = w.cli(['send', '-b', '--project', 'gamma', 'hello']);
      assert.equal(none.code, 4, 'nobody to broadcast to');
      await a.close();
      await b.close();
    });

    test('approvals lists pending requests; approve and deny answer them as the human; --from picks the requester', async () => {
      const x = await w.start('req-x', { env: { CC_DM_PERMISSION_RELAY: '1' } });
      const y = await w.start('req-y', { env: { CC_DM_PERMISSION_RELAY: '1' } });
      await x.notify(REQUEST, { request_id: 'abcde', tool_name: 'Bash', description: 'run ls', input_preview: 'ls' });
      await y.notify(REQUEST, { request_id: 'abcde', tool_name: 'Write', description: 'write a file', input_preview: 'a.txt' });
      await until(() => w.cli(['approvals', '--json']).json.filter((a: any) => a.request_id === 'abcde').length === 2, 10_000, 'both requests');
      const list = w.cli(['approvals', '--json']).json.find((a: any) => a.requester === 'req-x');
      assert.deepEqual(Object.keys(list).sort(), ['approver', 'asked_at', 'decided_at', 'decided_by', 'description', 'requester', 'request_id', 'input_preview', 'state', 'tool_name'].sort());
      assert.equal(list.tool_name, 'Bash');
      assert.equal(list.approver, 'human');
      assert.equal(list.state, 'pending');
      const ambiguous = w.cli(['approve', 'abcde']);
      assert.equal(ambiguous.code, 2, 'the same id pending for two sessions needs --from');
      assert.match(ambiguous.stderr, /--from/);
      const ok = w.cli(['approve', 'ABCDE', '--from', 'req-x', '--json']);
      assert.equal(ok.code, 0, ok.stderr);
      assert.deepEqual(ok.json.permission_answered, { request_id: 'abcde', requester: 'req-x', behavior: 'allow' });
      const no = w.cli(['deny', 'abcde']);
      assert.equal(no.code, 0, no.stderr);
      assert.match(no.stdout, /denied abcde of req-y/);
      await x.waitFor((p) => p.verdicts.length === 1, 10_000, 'x\'s verdict');
      await y.waitFor((p) => p.verdicts.length === 1, 10_000, 'y\'s verdict');
      assert.equal(x.verdicts[0]!.behavior, 'allow');
      assert.equal(y.verdicts[0]!.behavior, 'deny');
      assert.equal(w.cli(['approve', 'abcde', '--from', 'req-x']).code, 4, 'answered already');
      const all = w.cli(['approvals', '--all', '--json']).json.filter((a: any) => a.request_id === 'abcde' && a.decided_by === 'human');
      assert.deepEqual(all.map((a: any) => a.state).sort(), ['allow', 'deny']);
      assert.equal(w.cli(['approvals', '--json']).json.filter((a: any) => a.request_id === 'abcde').length, 0);
      await x.close();
      await y.close();
    });

    test('reserve keeps a name from register; --release frees it', async () => {
      const r = w.cli(['reserve', 'the-boss', '--json']);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.json, { success: true, name: 'the-boss', reserved: true });
      const p = await w.start(undefined);
      const taken = await p.call('register', { name: 'the-boss', role: 'approver' });
      assert.equal(taken.isError, true);
      assert.match(taken.body.error, /reserved/);
      assert.equal(w.cli(['who', '--all', '--json']).json.find((s: any) => s.name === 'the-boss')?.reserved, true);
      assert.equal(w.cli(['reserve', '--release', 'the-boss']).code, 0);
      const ok = await p.call('register', { name: 'the-boss', role: 'approver' });
      assert.equal(ok.isError, false, JSON.stringify(ok.body));
      await p.close();
    });
  });
}
