/** Identity and access (DESIGN.md, "Identity and authority"): every way to break a rule we could think of. */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { stores } from '../support/stores.js';
import { World, cleanEnv, exited, until } from '../support/world.js';
import { BIN } from '../../src/channel/peer.js';
import { fakeClaude } from '../support/launcher.js';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

for (const fx of stores()) {
  describe(`identity [${fx.kind}]`, () => {
    let w: World;
    before(async () => { w = await World.create(fx); });
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

    test('a second process launched with a live name runs under a reported variant and never sends as the original', async () => {
      const first = await w.start('dup');
      const second = await w.start('dup');
      const listener = await w.start('dup-listener');
      assert.equal((await second.call('who')).body.you, 'dup-2');
      assert.match(second.client.getInstructions() ?? '', /launch name "dup" was held by another live session, so you run as "dup-2"/);
      assert.match(second.stderrText, /held by a live session; running as "dup-2"/);
      await second.call('dm', { to: 'dup-listener', content: 'from the second' });
      await listener.waitFor((x) => x.pushes.length === 1, 10_000, 'dm from the variant');
      assert.equal(listener.pushes[0]!.meta.from_session, 'dup-2');
      await listener.call('dm', { to: 'dup', content: 'to the original' });
      await first.waitFor((x) => x.pushes.length === 1, 10_000, 'dm to the original holder');
      assert.equal(second.pushes.length, 0);
      const steal = await second.call('register', { name: 'dup', role: 'thief' });
      assert.equal(steal.isError, true);
      assert.equal(steal.body.code, 'E_NAME_TAKEN');
    });

    test('of two processes started at the same instant with one name, exactly one holds it', async () => {
      for (let round = 0; round < 5; round++) {
        const name = `race-${round}`;
        const pair = await Promise.all([w.start(name), w.start(name)]);
        const yous = (await Promise.all(pair.map((p) => p.call('who')))).map((r) => r.body.you).sort();
        assert.deepEqual(yous, [name, `${name}-2`], `round ${round}`);
      }
    });

    test('a session killed with SIGKILL and restarted with its name takes it back at once, with its mail in order', async () => {
      const victim = await w.start('phoenix');
      const sender = await w.start('phoenix-friend');
      process.kill(victim.pid!, 'SIGKILL');
      await until(() => exited(victim.pid!), 5000, 'the kill');
      for (let i = 1; i <= 5; i++) {
        const r = await sender.call('dm', { to: 'phoenix', content: `while down ${i}` });
        assert.equal(r.body.recipient_online, false);
        assert.equal(r.body.state, 'queued');
      }
      const back = await w.start('phoenix');
      assert.equal((await back.call('who')).body.you, 'phoenix', 'no variant for a dead holder');
      await back.waitFor((x) => x.pushes.length === 5, 10_000, 'five queued dms');
      assert.deepEqual(back.pushes.map((p) => p.content), [1, 2, 3, 4, 5].map((i) => `while down ${i}`));
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
      assert.equal(w.cli(['reserve', 'approver-x']).code, 0);
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

    test('invalid launch configuration is a clear error at start', () => {
      for (const [env, re] of [
        [{ CC_DM_DM_ALLOWLIST: 'a', CC_DM_DM_BLOCKLIST: 'b' }, /CC_DM_DM_ALLOWLIST and CC_DM_DM_BLOCKLIST are both set/],
        [{ CC_DM_SESSION_NAME: 'bad name' }, /CC_DM_SESSION_NAME "bad name" has characters/],
        [{ CC_DM_SESSION_NAME: 'human' }, /reserved word/],
        [{ CC_DM_POLL_MS: 'often' }, /CC_DM_POLL_MS=often is invalid/],
        [{ CC_DM_DATABASE_URL: 'mysql://x' }, /must start with postgres/],
      ] as const) {
        const r = spawnSync(process.execPath, [BIN, 'serve'], { env: { ...cleanEnv(), ...w.env, ...env }, input: '', encoding: 'utf8', timeout: 20_000 });
        assert.notEqual(r.status, 0, JSON.stringify(env));
        assert.match(r.stderr, re);
        assert.equal(r.stdout, '', 'nothing but JSON-RPC ever goes to stdout');
      }
    });

    test('the server exits when its stdin closes, and its session ends', async () => {
      const s = await w.start('short-lived');
      const pid = s.pid!;
      (s.transport as any)._process.stdin.end();
      await until(() => exited(pid), 10_000, 'the server to exit on stdin close');
      const who = w.cli(['who', '--json']);
      assert.ok(!who.json.some((x: any) => x.name === 'short-lived'));
    });

    test('a server whose Claude Code died exits by itself, and its name is free at once for the restarted session', async () => {
      const launcher = fakeClaude();
      const s = await w.start('ghost', { launcher: { command: launcher, args: [] }, env: { CC_DM_POLL_MS: '200' } });
      const claudePid = s.pid!;
      const serverPid = Number(readFileSync(join(dirname(launcher), `child-${claudePid}`), 'utf8'));
      assert.equal((await s.call('who')).body.you, 'ghost');
      process.kill(claudePid, 'SIGKILL');
      const back = await w.start('ghost');
      assert.equal((await back.call('who')).body.you, 'ghost', 'a server whose Claude Code is gone holds no name');
      await until(() => exited(serverPid), 10_000, 'the orphaned server to exit');
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
