/**
 * The permission relay answered by the human from the CLI (approvals, approve, deny: exit codes,
 * the refusal inside Claude Code). The verdict rules (only the approver named at launch, holding
 * that name from its launch, or the human) are tested in-process: test/inproc/permission.test.ts.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { stores } from '../support/stores.js';
import { World } from '../support/world.js';
import { until } from '../support/wait.js';
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
  });
}
