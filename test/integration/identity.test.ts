/**
 * Identity (DESIGN.md, "Identity and authority") where a process is needed: a second process with
 * a live name, racing starts, kills, stdin, orphans, bad launch configuration. The rules of names,
 * register, access lists, rate limits and scoping are tested in-process: test/inproc/identity.test.ts.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { stores } from '../support/stores.js';
import { World, exited } from '../support/world.js';
import { until } from '../support/wait.js';
import { BIN, cleanEnv } from '../../src/channel/peer.js';
import { fakeClaude } from '../support/launcher.js';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

for (const fx of stores()) {
  describe(`identity [${fx.kind}]`, () => {
    let w: World;
    before(async () => { w = await World.create(fx); });
    after(async () => { await w.close(); });

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
  });
}
