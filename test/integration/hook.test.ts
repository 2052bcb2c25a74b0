/** The SessionStart hook re-injects the session's identity (startup, resume, clear, compact). */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { sqlite } from '../support/stores.js';
import { World } from '../support/world.js';
import { fakeClaude, runHookUnder } from '../support/launcher.js';
import { BIN, cleanEnv } from '../../src/channel/peer.js';

// SQLite-specific: runs on SQLite whatever CC_DM_TEST_STORES selects.

describe('SessionStart hook', () => {
  let w: World;
  before(async () => { w = await World.create(sqlite); });
  after(async () => { await w.close(); });

  const context = (r: { code: number | null; stdout: string; stderr: string }) => {
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.hookSpecificOutput.hookEventName, 'SessionStart');
    return out.hookSpecificOutput.additionalContext as string;
  };

  test('finds its own session through its Claude Code parent, with the name it really holds; the nearest agent wins', async () => {
    // Two Claude Codes (stand-ins), each the parent of its own server and of its hooks. The test
    // process is a third agent with a server of its own, and an ancestor of both: a Claude Code
    // in whose tool call the others run. Each hook must name its own session, never another.
    const launcher = fakeClaude();
    await w.start('outer');
    const hooked = await w.start('hooked', { launcher: { command: launcher, args: [] }, env: { CC_DM_SESSION_ROLE: 'tests' } });
    const peer = await w.start('hook-peer', { launcher: { command: launcher, args: [] } });
    assert.equal((await peer.call('dm', { to: 'hooked', content: 'waiting?' })).isError, false);
    // Without its launch name in the hook's environment, only the process tree can say who it is.
    const hook = (p: typeof hooked) => runHookUnder(launcher, p.pid!, ['session-start'],
      JSON.stringify({ source: 'compact', hook_event_name: 'SessionStart' }), ['CC_DM_SESSION_NAME']);

    const text = context(await hook(hooked));
    assert.match(text, /you are "hooked" \(role: tests\) on the cc-dm message bus/);
    assert.match(text, /never with the built-in SendMessage/);
    // That stand-in was started without the channel flag: its hooks bind it to the hook path, which carries the waiting dm in.
    assert.match(text, /1 message\(s\) are waiting for you and are on their way/);
    assert.equal((await peer.call('who')).body.sessions.find((s: any) => s.name === 'hooked').path, 'hook');
    assert.match(text, /just compacted: call history/);

    const other = context(await hook(peer));
    assert.match(other, /you are "hook-peer" on the cc-dm message bus/);
    assert.doesNotMatch(other, /waiting for you/, 'hook-peer has no mail');
  });

  test('falls back to the launch name when no server is found', () => {
    const r = spawnSync(process.execPath, [BIN, 'hook', 'session-start'], {
      env: { ...cleanEnv(), ...w.env, CC_DM_HOME: `${w.home}/empty`, CC_DM_SESSION_NAME: 'solo-hook' },
      input: JSON.stringify({ source: 'startup' }), encoding: 'utf8',
    });
    const text = context({ code: r.status, stdout: r.stdout, stderr: r.stderr });
    assert.match(text, /you are "solo-hook"/);
  });
});
