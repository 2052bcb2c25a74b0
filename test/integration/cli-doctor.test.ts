/** cc-dm doctor (issue 6): each check with a verdict, --json, --fix for stale doorbells, exit 1 on a failed check. */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stores } from '../support/stores.js';
import { World } from '../support/world.js';
import { until } from '../support/wait.js';
import { doorbellDir } from '../../src/wake/unix-socket.js';

for (const fx of stores()) {
  describe(`cli doctor [${fx.kind}]`, () => {
    let w: World;
    let home: string; // a HOME of its own, so the plugin check looks at a known ~/.claude
    before(async () => {
      w = await World.create(fx);
      home = mkdtempSync(join(tmpdir(), 'ccdm-home-'));
    });
    after(async () => {
      await w.close();
      rmSync(home, { recursive: true, force: true });
    });
    const doctor = (...args: string[]) => w.cli(['doctor', '--json', ...args], { HOME: home });
    const check = (r: { json?: any }, name: string) => r.json.checks.find((c: any) => c.check === name);

    test('a healthy setup: every check listed, exit 0, warnings with a fix', async () => {
      const p = await w.start('doc-a');
      const r = doctor();
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.json.ok, true);
      const names = r.json.checks.map((c: any) => c.check);
      for (const n of ['node', 'store', 'schema', 'sessions', 'approvals', 'doorbells', 'plugin', 'claude code']) assert.ok(names.includes(n), `doctor checks ${n}`);
      for (const c of r.json.checks) {
        assert.ok(['ok', 'warn', 'fail'].includes(c.status));
        assert.equal(typeof c.detail, 'string');
        if (c.status === 'warn') assert.equal(typeof c.fix, 'string', `${c.check} says how to fix it`);
      }
      assert.equal(check(r, 'store').status, 'ok');
      assert.match(check(r, 'schema').detail, /version \d+ \(current\)/);
      assert.match(check(r, 'sessions').detail, /1 live: doc-a/);
      assert.equal(check(r, 'plugin').status, 'warn', 'no plugin in an empty ~/.claude');
      assert.match(check(r, 'plugin').fix, /cc-dm setup claude/);
      assert.equal(check(r, 'hooks').status, 'warn', 'no plugin, no hooks to carry mail');
      assert.match(check(r, 'sessions').detail, /doc-a \((claude, )?(channel|hook|pull)/, 'each session with its path');
      // This repository pins Claude Code as a dev dependency: found at least there.
      assert.equal(check(r, 'claude code').status, 'ok');
      assert.match(check(r, 'claude code').detail, /\d+\.\d+\.\d+/);
      const text = w.cli(['doctor'], { HOME: home });
      assert.equal(text.code, 0);
      assert.match(text.stdout, /^ok\s+store\s+/m);
      assert.match(text.stdout, /^warn\s+plugin\s+/m);
      await p.close();
    });

    test('the plugin is found once Claude Code has it installed', () => {
      mkdirSync(join(home, '.claude', 'plugins'), { recursive: true });
      writeFileSync(join(home, '.claude', 'plugins', 'installed_plugins.json'), JSON.stringify({
        version: 2, plugins: { 'cc-dm@cc-dm': [{ scope: 'user', installPath: '/opt/cc-dm', version: '2.0.0' }] },
      }));
      const p = check(doctor(), 'plugin');
      assert.equal(p.status, 'ok');
      assert.match(p.detail, /cc-dm@cc-dm 2\.0\.0 at \/opt\/cc-dm/);
      assert.equal(check(doctor(), 'hooks').status, 'ok', 'the plugin installed and no policy against hooks');
    });

    test('pending approvals and waiting mail are reported', async () => {
      const p = await w.start('doc-req', { env: { CC_DM_PERMISSION_RELAY: '1' } });
      await p.notify('notifications/claude/channel/permission_request', { request_id: 'dddoc', tool_name: 'Bash', description: 'x', input_preview: 'x' });
      await until(() => check(doctor(), 'approvals').status === 'warn', 10_000, 'the approval to show');
      assert.match(check(doctor(), 'approvals').detail, /dddoc from doc-req/);
      await p.close();
      const s = await w.start('doc-snd');
      await s.call('dm', { to: 'doc-req', content: 'later' });
      assert.match(check(doctor(), 'mailboxes').detail, /doc-req \(1\)/);
      await s.close();
    });

    if (fx.kind === 'sqlite') {
      test('stale doorbells are reported, and removed with --fix', () => {
        const dir = doorbellDir(w.home);
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        const stale = join(dir, 'deadbeefdeadbeef.sock');
        writeFileSync(stale, '');
        const old = new Date(Date.now() - 3600_000); // left by a session killed an hour ago
        utimesSync(stale, old, old);
        const r = doctor();
        assert.equal(r.code, 0, 'stale doorbells are a warning, not a failure');
        assert.equal(check(r, 'doorbells').status, 'warn');
        assert.match(check(r, 'doorbells').detail, /1 stale socket/);
        assert.equal(check(r, 'doorbells').fix, 'cc-dm doctor --fix');
        const fixed = doctor('--fix');
        assert.equal(check(fixed, 'doorbells').status, 'ok');
        assert.match(check(fixed, 'doorbells').detail, /removed 1 stale socket/);
        assert.equal(existsSync(stale), false);
        assert.equal(check(doctor(), 'doorbells').status, 'ok');
      });

      test('a store that cannot be opened is a failed check: exit 1', () => {
        const bad = mkdtempSync(join(tmpdir(), 'ccdm-bad-'));
        mkdirSync(join(bad, 'bus.db'));
        const r = w.cli(['doctor', '--json'], { HOME: home, CC_DM_HOME: bad });
        rmSync(bad, { recursive: true, force: true });
        assert.equal(r.code, 1);
        assert.equal(r.json.ok, false);
        assert.equal(check(r, 'store').status, 'fail');
        assert.match(check(r, 'store').detail, /is a directory/);
      });
    }
  });
}
