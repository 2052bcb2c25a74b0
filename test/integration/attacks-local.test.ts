/**
 * Issue 13, the local entry points as hostile: the CLI run from inside a Claude Code tool call
 * with CLAUDECODE unset (item 10), the SessionStart hook of a nested Claude Code (11), search
 * syntax (12), a model filling the disk (15), a doorbell folder planted by another user (14),
 * and the store file corrupted under a running server (18).
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { sqlite, stores } from '../support/stores.js';
import { World } from '../support/world.js';
import { until } from '../support/wait.js';
import { cleanEnv } from '../../src/channel/peer.js';
import { BIN } from '../../src/channel/peer.js';
import { requireSecondUid } from '../support/second-uid.js';

const REQUEST = 'notifications/claude/channel/permission_request';

/**
 * A stand-in for Claude Code: a program named `claude` that does what FAKE_PLAN says: serve (spawn
 * `cc-dm serve` on its own stdio, as Claude Code spawns its MCP servers), run a command as a
 * tool call would (its output to a file), run the SessionStart hook (its output to a file), or
 * start a nested `claude` with its own plan.
 */
function fakeClaude(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ccdm-fake-claude-'));
  chmodSync(dir, 0o755);
  const path = join(dir, 'claude');
  writeFileSync(join(dir, 'package.json'), '{"type":"commonjs"}');
  writeFileSync(path, `#!${process.execPath}
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const plan = JSON.parse(process.env.FAKE_PLAN || '{}');
const env = { ...process.env };
delete env.FAKE_PLAN;
const children = [];
if (plan.serve) children.push(spawn(process.execPath, [${JSON.stringify(BIN)}, 'serve'], { stdio: 'inherit', env }));
setTimeout(() => {
  if (plan.run) {
    const r = spawnSync('sh', ['-c', plan.run.cmd], { env: { ...env, ...plan.run.env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    fs.writeFileSync(plan.run.out, JSON.stringify({ status: r.status, stdout: r.stdout, stderr: r.stderr }));
  }
  if (plan.hook) {
    const r = spawnSync(process.execPath, [${JSON.stringify(BIN)}, 'hook', 'session-start'], { env, input: '{"source":"startup"}', encoding: 'utf8' });
    fs.writeFileSync(plan.hook, r.stdout || r.stderr);
  }
  if (plan.nested) {
    const c = spawn(${JSON.stringify(path)}, [], { stdio: 'ignore', env: { ...env, ...plan.nested.env, FAKE_PLAN: JSON.stringify(plan.nested.plan) } });
    children.push(c);
  }
}, plan.delayMs || 0);
if (!plan.serve) setTimeout(() => process.exit(0), (plan.delayMs || 0) + 15000).unref();
process.on('SIGTERM', () => { children.forEach((c) => c.kill()); process.exit(0); });
if (plan.serve) children[0].on('exit', (code) => process.exit(code ?? 1));
`);
  chmodSync(path, 0o755);
  return path;
}

const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8'));

for (const fx of stores()) {
  describe(`attacks from local entry points [${fx.kind}]`, () => {
    let w: World;
    let claude: string;
    before(async () => { w = await World.create(fx); claude = fakeClaude(); });
    after(async () => { await w.close(); });

    test('item 10: inside a Claude Code tool call with CLAUDECODE unset, human-only commands still refuse (process ancestry)', async () => {
      const p = await w.start('g10', { env: { CC_DM_PERMISSION_RELAY: '1' } });
      await p.notify(REQUEST, { request_id: 'gggga', tool_name: 'Bash', description: 'rm -rf ~', input_preview: 'rm -rf ~' });
      await until(() => w.cli(['approvals', '--json']).json.some((a: any) => a.request_id === 'gggga'), 10_000, 'the request');
      const out = join(w.home, 'g10.json');
      for (const args of ['approve gggga', 'deny gggga', 'send g10 hi', 'reserve boss', 'console --no-open']) {
        // The model's tool call: a shell under Claude Code, with the marker variable removed.
        const cmd = `env -u CLAUDECODE "${process.execPath}" "${BIN}" ${args}`;
        const r = spawnSync(claude, [], { env: { ...cleanEnv(), ...w.env, CLAUDECODE: '1', FAKE_PLAN: JSON.stringify({ run: { cmd, out } }) }, encoding: 'utf8', timeout: 60_000 });
        assert.equal(r.status, 0, r.stderr);
        const res = readJson(out);
        assert.equal(res.status, 3, `cc-dm ${args}: ${res.stderr}`);
        assert.match(res.stderr, /for the human only.*runs under Claude Code \(process \d+/, `cc-dm ${args} says why`);
      }
      assert.equal(w.cli(['approvals', '--json']).json.find((a: any) => a.request_id === 'gggga').state, 'pending', 'nothing was answered');
      assert.equal(p.verdicts.length, 0);
      // Reading is fine from inside, and the human outside still can.
      const read = spawnSync(claude, [], { env: { ...cleanEnv(), ...w.env, FAKE_PLAN: JSON.stringify({ run: { cmd: `"${process.execPath}" "${BIN}" who --json`, out } }) }, encoding: 'utf8' });
      assert.equal(read.status, 0);
      assert.equal(readJson(out).status, 0);
      assert.equal(w.cli(['deny', 'gggga']).code, 0);
      await p.waitFor((x) => x.verdicts.length === 1, 10_000, 'the human\'s verdict');
    });

    test('item 11: the SessionStart hook of a Claude Code nested in another\'s tool call names the nearest session, never the outer one', async () => {
      const out = join(w.home, 'hook11.txt');
      const outer = await w.start('n11-outer', {
        launcher: { command: claude, args: [] },
        env: { FAKE_PLAN: JSON.stringify({ serve: true, delayMs: 1500, nested: { env: { CC_DM_SESSION_NAME: 'n11-inner' }, plan: { hook: out } } }) },
      });
      assert.equal((await outer.call('who')).body.you, 'n11-outer');
      await until(() => existsSync(out) && readFileSync(out, 'utf8').length > 0, 30_000, 'the nested hook\'s output');
      const text = JSON.parse(readFileSync(out, 'utf8')).hookSpecificOutput.additionalContext as string;
      assert.doesNotMatch(text, /n11-outer/, text);
      assert.match(text, /you are "n11-inner"/, text);
    });

    test('item 12: a search query is valid or a clear E_INVALID, words are searched as words (tool and CLI)', async () => {
      const a = await w.start('s12-a');
      await w.start('s12-b');
      await a.call('dm', { to: 's12-b', content: 'deploy-bot said: rm -rf build (NEAR the "end") content:secret' });
      for (const query of ['"', '""', '" "', '*', '()', 'a\u0000b']) {
        const r = await a.call('history', { query });
        assert.equal(r.isError, true, JSON.stringify(query));
        assert.equal(r.body.code, 'E_INVALID', `${JSON.stringify(query)}: ${r.body.error}`);
      }
      for (const query of ['rm -rf', 'NEAR(the', 'content:secret', '"end"', 'deploy-bot', 'AND OR NOT', 'bui*']) {
        const r = await a.call('history', { query });
        assert.equal(r.isError, false, `${JSON.stringify(query)}: ${JSON.stringify(r.body)}`);
      }
      assert.equal((await a.call('history', { query: 'NEAR(the' })).body.messages.length, 1, 'words as words');
      assert.equal((await a.call('history', { query: 'content:secret' })).body.messages.length, 1);
      assert.equal((await a.call('history', { query: 'AND OR NOT' })).body.messages.length, 0);
      for (const q of ['"', '""', '" "']) {
        const r = w.cli(['search', q]);
        assert.equal(r.code, 2, `search ${q}: ${r.stderr}`);
        assert.match(r.stderr, /has no words/);
      }
      assert.equal(w.cli(['search', 'rm', '-rf', '--json']).code, 2, '-rf is read as an option by the CLI: a clear usage error');
      assert.equal(w.cli(['search', '--json', '--', 'rm -rf']).json.length, 1);
    });

    test('item 15: what one sender keeps queued is bounded (count and bytes), with a clear error; doctor reports the size', async () => {
      const filler = await w.start('q15', { env: { CC_DM_QUEUE_MAX_MESSAGES: '5', CC_DM_QUEUE_MAX_BYTES: '65536' } });
      for (let i = 0; i < 5; i++) {
        const r = await filler.call('dm', { to: 'q15-offline', content: `loop ${i}`, queue_if_unknown: true, ttl_s: 604800 });
        assert.equal(r.isError, false, JSON.stringify(r.body));
      }
      const over = await filler.call('dm', { to: 'q15-offline', content: 'one more' });
      assert.equal(over.isError, true);
      assert.equal(over.body.code, 'E_QUOTA');
      assert.match(over.body.error, /5 message\(s\).*waiting.*CC_DM_QUEUE_MAX_MESSAGES/);
      // Once read, there is room again.
      const reader = await w.start('q15-offline');
      await reader.waitFor((p) => p.pushes.length === 5, 10_000, 'the queued mail');
      await until(async () => !(await filler.call('dm', { to: 'q15-offline', content: 'after reading' })).isError, 10_000, 'room again');
      await reader.close();
      // Bytes: two messages of 40 KB do not fit in 64 KiB.
      const big = 'x'.repeat(40_000);
      const bytes = await w.start('q15-bytes', { env: { CC_DM_QUEUE_MAX_BYTES: '65536' } });
      assert.equal((await bytes.call('dm', { to: 'q15-sink', content: big, queue_if_unknown: true })).isError, false);
      const second = await bytes.call('dm', { to: 'q15-sink', content: big });
      assert.equal(second.body.code, 'E_QUOTA');
      assert.match(second.body.error, /MiB/);
      const doctor = w.cli(['doctor', '--json']);
      const size = doctor.json.checks.find((c: any) => c.check === 'store size');
      assert.ok(size, JSON.stringify(doctor.json.checks));
      assert.match(size.detail, /MiB; \d+ delivery\(ies\) waiting/);
    });
  });
}

describe('attacks on the doorbell folder [sqlite, a second uid]', () => {
  const NOBODY = 65534;
  const planted = `/tmp/cc-dm-${NOBODY}`;
  let w: World;
  before(async () => {
    w = await World.create(sqlite);
  });
  after(async () => {
    await w.close();
    rmSync(planted, { recursive: true, force: true });
  });

  const asNobody = (env: Record<string, string>) => ({ launcher: { command: 'runuser', args: ['-u', 'nobody', '--', process.execPath, BIN, 'serve'] }, env });
  const cliAsNobody = (home: string, args: string[]) => {
    const r = spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, BIN, ...args], { env: { ...cleanEnv(), CC_DM_HOME: home }, encoding: 'utf8', timeout: 60_000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr, json: (() => { try { return JSON.parse(r.stdout); } catch { return undefined; } })() };
  };

  test('item 14: a /tmp/cc-dm-<uid> planted by another user never stops a session: another private place, or the poll, and doctor says so', async () => {
    requireSecondUid('the planted doorbell folder');
    // Root plants nobody's doorbell folder (as any other user could, /tmp being shared).
    rmSync(planted, { recursive: true, force: true });
    mkdirSync(planted, { mode: 0o777 });
    chmodSync(planted, 0o777);
    const home = join(w.home, 'nobody-home');
    mkdirSync(home, { mode: 0o700 });
    chownSync(home, NOBODY, NOBODY);
    chownSync(w.home, NOBODY, NOBODY);
    const a = await w.start('d14-a', asNobody({ CC_DM_HOME: home, CC_DM_POLL_MS: '60000' }));
    const b = await w.start('d14-b', asNobody({ CC_DM_HOME: home, CC_DM_POLL_MS: '60000' }));
    assert.equal((await b.call('who')).body.you, 'd14-b', 'the session started');
    const t0 = Date.now();
    await a.call('dm', { to: 'd14-b', content: 'rung through the fallback folder' });
    await b.waitFor((p) => p.pushes.length === 1, 20_000, 'the dm');
    assert.ok(Date.now() - t0 < 20_000);
    const socks = readdirSync(join(home, 'doorbells')).filter((f) => f.endsWith('.sock'));
    assert.equal(socks.length, 2, 'both doorbells are in the home\'s own folder');
    assert.equal(statSync(join(home, 'doorbells')).mode & 0o777, 0o700);
    assert.deepEqual(readdirSync(planted), [], 'nothing was created in the planted folder');
    const doc = cliAsNobody(home, ['doctor', '--json']);
    const check = doc.json.checks.find((c: any) => c.check === 'doorbell dir');
    assert.equal(check?.status, 'warn', JSON.stringify(doc.json.checks));
    assert.match(check.detail, new RegExp(`${planted} belongs to another user \\(uid 0\\).*ring in ${home}/doorbells`));
    // A home too long for a socket path leaves only the poll: the session still starts and gets its mail.
    const long = join(w.home, 'h'.repeat(90));
    mkdirSync(long, { mode: 0o700 });
    chownSync(long, NOBODY, NOBODY);
    const c = await w.start('d14-c', asNobody({ CC_DM_HOME: long, CC_DM_POLL_MS: '300' }));
    const d = await w.start('d14-d', asNobody({ CC_DM_HOME: long, CC_DM_POLL_MS: '300' }));
    await c.call('dm', { to: 'd14-d', content: 'by the poll' });
    await d.waitFor((p) => p.pushes.length === 1, 20_000, 'the dm by the poll');
    assert.match(d.stderrText, /doorbell folder refused.*fallback poll/);
    const doc2 = cliAsNobody(long, ['doctor', '--json']);
    assert.match(doc2.json.checks.find((x: any) => x.check === 'doorbell dir').detail, /no private folder left, so sessions run on the fallback poll/);
  });
});

describe('attacks on the store file [sqlite]', () => {
  let w: World;
  before(async () => { w = await World.create(sqlite); });
  after(async () => { await w.close(); });

  test('item 18: corruption found after start is E_STORE_CORRUPT (exit 5), not E_INTERNAL, and the server keeps answering', async () => {
    const a = await w.start('c18-a');
    await w.start('c18-b');
    for (let i = 0; i < 200; i++) await a.call('dm', { to: 'c18-b', content: `filler ${i} ${'y'.repeat(500)}` });
    const db = join(w.home, 'bus.db');
    // Another local process damages the file: everything is checkpointed into it, then every page
    // but the header's is overwritten; a commit of its own makes the servers drop their caches.
    const d = new Database(db);
    d.pragma('wal_checkpoint(TRUNCATE)');
    const pageSize = d.pragma('page_size', { simple: true }) as number;
    const pages = statSync(db).size / pageSize;
    const fd = openSync(db, 'r+');
    for (let p = 1; p < pages; p++) writeSync(fd, Buffer.alloc(pageSize, 0xa5), 0, pageSize, p * pageSize);
    closeSync(fd);
    try { d.exec('CREATE TABLE IF NOT EXISTS cc_dm_poke (x)'); } catch { /* the damage may already show */ }
    d.close();
    const r = await a.call('history', { limit: 50 });
    assert.equal(r.isError, true, JSON.stringify(r.body).slice(0, 200));
    assert.equal(r.body.code, 'E_STORE_CORRUPT', r.body.error);
    assert.match(r.body.error, /not a readable cc-dm database.*will not overwrite it/);
    const cli = w.cli(['log']);
    assert.equal(cli.code, 5, cli.stderr);
    assert.match(cli.stderr, /not a readable cc-dm database/);
    const again = await a.call('who');
    assert.equal(again.body.code, 'E_STORE_CORRUPT', 'the server still answers, with the same clear error');
  });
});

