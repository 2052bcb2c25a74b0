/**
 * Identity and access (DESIGN.md, "Identity and authority"), in-process: names, register, access
 * lists, rate limits and project scoping. What needs a process of its own (a second process with
 * a live name, racing starts, kills, stdin, orphans, bad launch configuration) is in
 * test/integration/identity.test.ts.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { stores } from '../support/stores.js';
import { InProcWorld } from '../support/inproc.js';

for (const fx of stores()) {
  describe(`identity in-process [${fx.kind}]`, () => {
    let w: InProcWorld;
    before(async () => { w = await InProcWorld.create(fx); });
    after(async () => { await w.close(); });

    test('names are compared trimmed and case-folded', async () => {
      const p = await w.start('  Planner ');
      const q = await w.start('caller');
      assert.equal((await p.call('who')).body.you, 'Planner');
      const r = await q.call('dm', { to: 'PLANNER', content: 'case' });
      assert.equal(r.isError, false);
      await p.waitFor((x) => x.pushes.length === 1, 10_000, 'dm by folded name');
      const again = await w.start('planner');
      assert.equal((await again.call('who')).body.you, 'planner-2', 'the same name in another case is the same name');
    });

    test('register never takes a live name, an ended session\'s mailbox, a reserved name or a reserved word', async () => {
      const ended = await w.start('mailbox-owner');
      await ended.close();
      const m = await w.start('mover');
      const live = await w.start('live-holder');
      const cases: [string, string, RegExp][] = [
        ['live-holder', 'E_NAME_TAKEN', /held by a live session/],
        ['LIVE-HOLDER', 'E_NAME_TAKEN', /held by a live session/],
        ['mailbox-owner', 'E_NAME_TAKEN', /launched with CC_DM_SESSION_NAME=mailbox-owner/],
        ['human', 'E_NAME_RESERVED', /reserved/],
        ['System', 'E_NAME_RESERVED', /reserved/],
      ];
      assert.equal(await w.human.reserve('approver-x', true), 'approver-x');
      cases.push(['approver-x', 'E_NAME_RESERVED', /reserved by the human/]);
      await live.call('dm', { to: 'future-one', content: 'for later', queue_if_unknown: true });
      cases.push(['future-one', 'E_NAME_TAKEN', /mailbox/]);
      for (const [name, code, re] of cases) {
        const r = await m.call('register', { name, role: 'thief' });
        assert.equal(r.isError, true, name);
        assert.equal(r.body.code, code, name);
        assert.match(r.body.error, re, name);
      }
      assert.equal((await m.call('who')).body.you, 'mover', 'a refused register changes nothing');
      // The launch environment may take back the ended session's name and a reserved name.
      const back = await w.start('mailbox-owner');
      assert.equal((await back.call('who')).body.you, 'mailbox-owner');
      const reservedHolder = await w.start('approver-x');
      assert.equal((await reservedHolder.call('who')).body.you, 'approver-x');
      const future = await w.start('future-one');
      await future.waitFor((x) => x.pushes.length === 1, 10_000, 'mail queued for a name that appeared later');
    });

    test('bad names and roles are refused with the rule stated', async () => {
      const s = await w.start('namer');
      for (const [args, re] of [
        [{ name: '', role: 'x' }, /name is empty/],
        [{ name: 'a'.repeat(65), role: 'x' }, /limit is 64/],
        [{ name: 'has space', role: 'x' }, /not allowed/],
        [{ name: '-dash', role: 'x' }, /starting with a letter or digit/],
        [{ name: 'ok', role: '' }, /role is empty/],
        [{ name: 'ok', role: 'r'.repeat(65) }, /limit is 64/],
        [{ name: 'ok', role: 'a<b' }, /not allowed/],
        [{ name: 'ok', role: 'x', project: 'has space' }, /project/],
        [{ name: 'ok' }, /role is required/],
      ] as const) {
        const r = await s.call('register', args as Record<string, unknown>);
        assert.equal(r.isError, true, JSON.stringify(args));
        assert.match(r.body.error, re);
      }
    });

    test('allowlist, blocklist and broadcast roles are enforced, case-insensitively', async () => {
      await w.start('target-a');
      await w.start('target-b');
      const allow = await w.start('allow-only', { env: { CC_DM_DM_ALLOWLIST: 'Target-A' } });
      assert.equal((await allow.call('dm', { to: 'target-a', content: 'ok' })).isError, false);
      const no = await allow.call('dm', { to: 'target-b', content: 'nope' });
      assert.equal(no.body.code, 'E_FORBIDDEN');
      assert.match(no.body.error, /may dm only target-a/);
      const block = await w.start('block-b', { env: { CC_DM_DM_BLOCKLIST: 'TARGET-B' } });
      assert.equal((await block.call('dm', { to: 'Target-B', content: 'x' })).body.code, 'E_FORBIDDEN');
      assert.equal((await block.call('dm', { to: 'target-a', content: 'x' })).isError, false);
      const worker = await w.start('no-bcast', { env: { CC_DM_SESSION_ROLE: 'worker', CC_DM_BROADCAST_ALLOWED_ROLES: 'Lead, planner' } });
      const bc = await worker.call('broadcast', { content: 'hi all' });
      assert.equal(bc.body.code, 'E_FORBIDDEN');
      assert.match(bc.body.error, /roles lead, planner/);
      const lead = await w.start('lead-1', { env: { CC_DM_SESSION_ROLE: 'LEAD', CC_DM_BROADCAST_ALLOWED_ROLES: 'lead' } });
      assert.equal((await lead.call('broadcast', { content: 'hi all' })).isError, false);
    });

    test('a sender past its rate limit gets E_RATE, saying how long to wait', async () => {
      await w.start('rate-rcv');
      const s = await w.start('flooder', { env: { CC_DM_RATE_LIMIT: '3' } });
      for (let i = 0; i < 3; i++) assert.equal((await s.call('dm', { to: 'rate-rcv', content: `m${i}` })).isError, false);
      const r = await s.call('dm', { to: 'rate-rcv', content: 'one too many' });
      assert.equal(r.body.code, 'E_RATE');
      assert.match(r.body.error, /faster than 3 messages a minute \(CC_DM_RATE_LIMIT\); wait \d+ s/);
    });

    test('the rate limit refills with time: a token every 60/limit s, never more than the limit', async () => {
      const rcv = await w.start('refill-rcv');
      const s = await w.start('refiller', { env: { CC_DM_RATE_LIMIT: '3' } });
      const send = (content: string) => s.call('dm', { to: 'refill-rcv', content });
      for (let i = 0; i < 3; i++) assert.equal((await send(`a${i}`)).isError, false);
      const spent = await send('a3');
      assert.equal(spent.body.code, 'E_RATE');
      const waitS = Number(/wait (\d+) s/.exec(spent.body.error)?.[1]);
      assert.ok(waitS >= 1 && waitS <= 20, `one token comes back within 20 s at 3 a minute (told to wait ${waitS} s)`);
      // Refused sends cost nothing: 20 s later exactly one more goes.
      w.clock.advance(20_000);
      assert.equal((await send('b0')).isError, false, 'one token refilled after 60/3 s');
      const again = await send('b1');
      assert.equal(again.body.code, 'E_RATE');
      // A long pause refills the bucket to its size, not beyond.
      w.clock.advance(10 * 60_000);
      for (let i = 0; i < 3; i++) assert.equal((await send(`c${i}`)).isError, false, `c${i}`);
      assert.equal((await send('c3')).body.code, 'E_RATE', 'the bucket holds at most the limit');
      await rcv.waitFor((x) => x.pushes.length === 7, 10_000, 'the seven dms that went');
      assert.deepEqual(rcv.pushes.map((p) => p.content), ['a0', 'a1', 'a2', 'b0', 'c0', 'c1', 'c2']);
    });

    test('project scoping: tagged sessions reach their own project, and may answer whoever wrote to them', async () => {
      const coord = await w.start('coord');
      const red = await w.start('red-1', { env: { CC_DM_SESSION_PROJECT: 'red' } });
      const red2 = await w.start('red-2', { env: { CC_DM_SESSION_PROJECT: 'red' } });
      await w.start('blue-1', { env: { CC_DM_SESSION_PROJECT: 'blue' } });
      const cross = await red.call('dm', { to: 'blue-1', content: 'x' });
      assert.equal(cross.body.code, 'E_SCOPE');
      assert.equal((await red.call('dm', { to: 'coord', content: 'x' })).body.code, 'E_SCOPE', 'untagged is outside a tagged project');
      assert.equal((await red.call('dm', { to: 'red-2', content: 'same project' })).isError, false);
      await red2.waitFor((x) => x.pushes.length === 1, 10_000, 'same-project dm');
      assert.equal((await coord.call('dm', { to: 'blue-1', content: 'untagged reaches all' })).isError, false);
      await coord.call('dm', { to: 'red-1', content: 'please report' });
      await red.waitFor((x) => x.pushes.length === 1, 10_000, 'coordinator dm');
      const reply = await red.call('dm', { to: 'coord', content: 'report' });
      assert.equal(reply.isError, false, 'a tagged worker answers an untagged coordinator that wrote first');
      const who = await red.call('who');
      assert.deepEqual(who.body.sessions.map((s: any) => s.name).sort(), ['red-1', 'red-2']);
    });
  });
}
