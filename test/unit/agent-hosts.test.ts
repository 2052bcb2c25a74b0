/** Pure pieces of the Codex and Gemini CLI support: recognising the CLIs, thread slots, settings. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentOf, isCodexExec, isSharedCodex } from '../../src/procfs.js';
import { bindThread, serversDir, ThreadSlot, uuidv7Time } from '../../src/wake/codex-threads.js';
import { geminiCanWake, stripJsonComments } from '../../src/delivery/gemini-hooks.js';
import { codexThreadName } from '../../src/channel/main.js';
import { shellWord } from '../../src/delivery/hook-main.js';

test('the agent CLIs are recognised by their command lines, Gemini CLI relaunched with node options too', () => {
  const cases: [string[], string | undefined][] = [
    [['/usr/bin/node', '/usr/lib/node_modules/@openai/codex/bin/codex.js'], 'codex'],
    [['/x/vendor/x86_64-unknown-linux-musl/bin/codex', 'exec', 'hi'], 'codex'],
    [['/h/.codex/packages/app-server-daemon/releases/0.171.0-x/bin/codex', 'app-server', '--listen', 'unix://', '--managed-daemon'], 'codex'],
    [['/usr/bin/node', '/usr/local/bin/gemini'], 'gemini'],
    [['/usr/bin/node', '--max-old-space-size=8192', '/usr/lib/node_modules/@google/gemini-cli/bundle/gemini.js'], 'gemini'],
    [['node', '--no-warnings=DEP0040', '/opt/gemini-cli/bundle/gemini.js', '--approval-mode', 'yolo'], 'gemini'],
    [['/usr/bin/node', '/repo/bin/cc-dm.js', 'hook', 'gemini'], undefined],
    [['/usr/bin/node', 'dist/test/e2e/gemini-smoke.test.js'], undefined],
    [['claude', '--debug'], 'claude'],
  ];
  for (const [argv, want] of cases) assert.equal(agentOf(argv), want, argv.join(' '));
  assert.equal(isSharedCodex(cases[2]![0]), true);
  assert.equal(isSharedCodex(cases[1]![0]), false);
  assert.equal(isCodexExec(cases[1]![0]), true);
  assert.equal(isCodexExec(['/x/codex', '--no-daemon']), false);
});

test('a Codex thread id (UUIDv7) carries its creation time; the thread name is stable', () => {
  assert.equal(uuidv7Time('01a22c4a-bcd4-7741-92f0-9a0e57282d65'), 0x01a22c4abcd4);
  assert.equal(uuidv7Time('not-a-uuid'), undefined);
  assert.equal(uuidv7Time('01a22c4a-bcd4-4741-92f0-9a0e57282d65'), undefined, 'a v4 carries no time');
  assert.equal(codexThreadName('01a22c4a-bcd4-7741-92f0-9a0e57282d65'), 'codex-282d65');
});

test('thread slots: a hook binds its thread to the one server that can be its own, never a guess between two', async () => {
  const home = mkdtempSync(join(tmpdir(), 'ccdm-slots-'));
  try {
    const daemon = 4242;
    const dir = serversDir(home, daemon);
    const t0 = Date.now();
    const thread = (at: number) => `${at.toString(16).padStart(12, '0').slice(0, 8)}-${at.toString(16).padStart(12, '0').slice(8)}-7abc-8def-0123456789ab`;
    const alive = () => true;
    const bound: string[] = [];
    const a = new ThreadSlot(dir, { pid: 101, pidStart: null, cwd: '/w', startedAt: t0 + 10 });
    a.open((t) => bound.push(`a:${t}`));
    // One server in that folder, started after the thread: it is the thread's.
    const ta = thread(t0);
    assert.equal(bindThread(home, daemon, ta, '/w', alive), 101);
    await waitFor(() => bound.length === 1);
    assert.deepEqual(bound, [`a:${ta}`]);
    assert.equal(bindThread(home, daemon, thread(t0 + 1), '/w', alive), undefined, 'a bound slot is not bound again');
    a.close();

    // Two servers that could both be the thread's: no binding (the first tool call decides).
    const b = new ThreadSlot(dir, { pid: 102, pidStart: null, cwd: '/w', startedAt: t0 + 20 });
    const c = new ThreadSlot(dir, { pid: 103, pidStart: null, cwd: '/w', startedAt: t0 + 30 });
    b.open((t) => bound.push(`b:${t}`));
    c.open((t) => bound.push(`c:${t}`));
    assert.equal(bindThread(home, daemon, thread(t0), '/w', alive), undefined, 'ambiguous');
    // A thread created after b started can only be c's; another folder is not this thread's.
    assert.equal(bindThread(home, daemon, thread(t0 + 25), '/elsewhere', alive), undefined, 'another working directory');
    const tc = thread(t0 + 25);
    assert.equal(bindThread(home, daemon, tc, '/w', alive), 103);
    await waitFor(() => bound.includes(`c:${tc}`));
    // A dead server is no candidate.
    assert.equal(bindThread(home, daemon, thread(t0), '/w', (pid) => pid !== 102), undefined);
    // The tool call's thread wins over a hook's binding.
    assert.equal(b.bindSelf('tool-thread'), undefined);
    assert.equal(readFileSync(join(dir, '102.thread'), 'utf8'), 'tool-thread');
    b.close();
    c.close();
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test("Gemini CLI's settings: comments allowed; the two settings a waiter needs, from the user's and the workspace's files", () => {
  assert.deepEqual(JSON.parse(stripJsonComments('{ // a\n "a": "x // not a comment", /* b */ "b": 1 }')), { a: 'x // not a comment', b: 1 });
  const root = mkdtempSync(join(tmpdir(), 'ccdm-gset-'));
  try {
    const user = join(root, 'user');
    const ws = join(root, 'ws');
    mkdirSync(user, { recursive: true });
    mkdirSync(join(ws, '.gemini'), { recursive: true });
    assert.equal(geminiCanWake(user, ws).ok, false);
    writeFileSync(join(user, 'settings.json'), JSON.stringify({ experimental: { modelSteering: true } }));
    assert.deepEqual(geminiCanWake(user, ws).missing, ['tools.shell.backgroundCompletionBehavior: "inject"']);
    writeFileSync(join(ws, '.gemini', 'settings.json'), '// workspace\n{"tools": {"shell": {"backgroundCompletionBehavior": "inject"}}}');
    assert.equal(geminiCanWake(user, ws).ok, true);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('the wait command is quoted for the shell', () => {
  assert.equal(shellWord('/usr/bin/node'), '/usr/bin/node');
  assert.equal(shellWord("/a b/it's"), `'/a b/it'\\''s'`);
});

async function waitFor(cond: () => boolean, ms = 3_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
