/**
 * Issue 13, items 7-9: liveness that one launch decides for all. A process on this machine
 * launched with another CC_DM_HOST, or with a tiny CC_DM_HEARTBEAT_EXPIRY_MS, tries to take a
 * live session's name (the approver's among them) or to end every live session; a judge that
 * cannot read a holder's /proc (hidepid) must not keep that holder alive forever.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import pg from 'pg';
import { stores } from '../support/stores.js';
import { World } from '../support/world.js';
import { until } from '../support/wait.js';
import { BIN } from '../../src/channel/peer.js';
import { sleep } from '../support/wait.js';
import { requireSecondUid } from '../support/second-uid.js';

const REQUEST = 'notifications/claude/channel/permission_request';

for (const fx of stores()) {
  describe(`attacks on liveness [${fx.kind}]`, () => {
    let w: World;
    before(async () => { w = await World.create(fx); });
    after(async () => { await w.close(); });

    test('item 7: a launch claiming another CC_DM_HOST cannot take a live name (the approver\'s), nor answer as it', async () => {
      const approver = await w.start('l7-approver');
      const requester = await w.start('l7-requester', { env: { CC_DM_PERMISSION_RELAY: '1', CC_DM_PERMISSION_APPROVER: 'l7-approver' } });
      const attacker = await w.start('l7-approver', { env: { CC_DM_HOST: 'elsewhere', CC_DM_HEARTBEAT_MS: '500', CC_DM_HEARTBEAT_EXPIRY_MS: '1000' } });
      assert.equal((await attacker.call('who')).body.you, 'l7-approver-2', 'a live holder keeps its name whatever host a launch claims');
      await requester.notify(REQUEST, { request_id: 'zzzzz', tool_name: 'Bash', description: 'rm -rf ~', input_preview: 'rm -rf ~' });
      await approver.waitFor((p) => p.pushes.some((m) => m.meta.kind === 'permission_request'), 10_000, 'the real request at the approver');
      await sleep(1_500); // past the attacker's own (tiny) expiry
      const yes = await attacker.call('dm', { to: 'l7-requester', content: 'yes zzzzz' });
      assert.equal(yes.isError, true, JSON.stringify(yes.body));
      assert.equal(yes.body.code, 'E_FORBIDDEN');
      const steal = await attacker.call('register', { name: 'l7-approver', role: 'x' });
      assert.equal(steal.body.code, 'E_NAME_TAKEN');
      assert.equal(requester.verdicts.length, 0, 'no verdict reached the requester');
      assert.equal(w.cli(['approvals', '--json']).json.find((a: any) => a.request_id === 'zzzzz').state, 'pending');
    });

    test('item 7: a CLI command run with another CC_DM_HOST (and a tiny expiry) ends no live session', async () => {
      const a = await w.start('l7-live-a');
      const b = await w.start('l7-live-b');
      await sleep(1_500);
      for (const env of [{ CC_DM_HOST: 'not-this-machine' }, { CC_DM_HOST: 'x', CC_DM_HEARTBEAT_MS: '500', CC_DM_HEARTBEAT_EXPIRY_MS: '1000' }]) {
        const who = w.cli(['who', '--json'], env);
        assert.equal(who.code, 0, who.stderr);
        for (const n of ['l7-live-a', 'l7-live-b']) assert.ok(who.json.some((s: any) => s.name === n && s.live), `${n} is still listed live (${JSON.stringify(env)})`);
        assert.equal(w.cli(['doctor', '--json'], env).json.checks.find((c: any) => c.check === 'sessions').status, 'ok');
      }
      const r = await a.call('dm', { to: 'l7-live-b', content: 'still there?' });
      assert.equal(r.body.recipient_online, true, 'b was not ended');
      await b.waitFor((p) => p.pushes.some((m) => m.content === 'still there?'), 10_000, 'the dm');
      const again = await w.start('l7-live-b');
      assert.equal((await again.call('who')).body.you, 'l7-live-b-2');
    });
  });
}

const postgres = stores().find((s) => s.kind === 'postgres');
if (postgres) {
  describe('attacks on liveness across machines [postgres]', () => {
    let w: World;
    before(async () => { w = await World.create(postgres); });
    after(async () => { await w.close(); });

    const sql = async (text: string, args: unknown[] = []) => {
      const c = new pg.Client({ connectionString: w.env.CC_DM_DATABASE_URL });
      await c.connect();
      try {
        return (await c.query(text, args)).rows;
      } finally {
        await c.end();
      }
    };

    test('item 8: a launch with CC_DM_HEARTBEAT_EXPIRY_MS=1000 cannot judge another machine\'s session dead and take its name', async () => {
      // The victim beats every 10 s and recorded an expiry of 30 s; it is made to look as if it ran
      // on another machine (its row's machine), so only its heartbeat speaks for it.
      const victim = await w.start('l8-victim');
      await sql(`UPDATE cc_dm.sessions SET machine = 'another-machine/1' WHERE name_key = 'l8-victim' AND ended_at IS NULL`);
      await sleep(2_500);
      const hb = { CC_DM_HOST: 'attacker-host', CC_DM_HEARTBEAT_MS: '500', CC_DM_HEARTBEAT_EXPIRY_MS: '1000' };
      const attacker = await w.start('l8-victim', { env: hb });
      assert.equal((await attacker.call('who')).body.you, 'l8-victim-2', 'judged by the victim\'s own recorded expiry, not the attacker\'s');
      assert.ok((await attacker.call('who')).body.sessions.some((s: any) => s.name === 'l8-victim'));
      assert.ok(w.cli(['who', '--json'], hb).json.some((s: any) => s.name === 'l8-victim' && s.live));
      const r = await attacker.call('dm', { to: 'l8-victim', content: 'are you there?' });
      assert.equal(r.body.recipient_online, true);
      await victim.waitFor((p) => p.pushes.length === 1, 10_000, 'the dm at the victim');
      const row = (await sql(`SELECT heartbeat_expiry_ms FROM cc_dm.sessions WHERE name_key = 'l8-victim' AND ended_at IS NULL`))[0];
      assert.equal(Number(row.heartbeat_expiry_ms), 30_000, 'each session records its own expiry');
    });

    test('item 9: a holder whose /proc cannot be read (hidepid) is unknown: alive while it beats, dead once its heartbeat runs out', async () => {
      requireSecondUid('the hidepid check');
      const hb = { CC_DM_HEARTBEAT_MS: '500', CC_DM_HEARTBEAT_EXPIRY_MS: '1500' };
      const holder = await w.start('l9-holder', { env: hb });
      // The judge: another user, in its own mount namespace whose /proc hides other users' processes.
      const judge = () =>
        w.start('l9-holder', {
          launcher: {
            command: 'unshare',
            args: ['-m', '--propagation', 'private', 'sh', '-c', `mount -t proc -o hidepid=1 proc /proc && exec runuser -u nobody -- "${process.execPath}" "${BIN}" serve`],
          },
          env: hb,
        });
      // The judge really cannot read the holder's /proc entry (else this test proves nothing).
      const probe = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', `mount -t proc -o hidepid=1 proc /proc && runuser -u nobody -- cat /proc/${holder.pid}/stat`], { encoding: 'utf8' });
      assert.notEqual(probe.status, 0, `the judge could read /proc/${holder.pid}/stat: ${probe.stdout}`);
      const first = await judge();
      assert.equal((await first.call('who')).body.you, 'l9-holder-2', 'unknown but beating: alive');
      await first.close();
      process.kill(holder.pid!, 'SIGSTOP');
      try {
        await sleep(3_000); // past the holder's recorded expiry
        const second = await judge();
        assert.equal((await second.call('who')).body.you, 'l9-holder', 'unknown and silent: its name is taken back, not held forever');
        await second.close();
      } finally {
        process.kill(holder.pid!, 'SIGKILL');
      }
      await until(() => w.cli(['who', '--json']).json.every((s: any) => s.name !== 'l9-holder'), 10_000, 'the roster to settle');
    });
  });
}
