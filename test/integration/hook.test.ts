/** The SessionStart hook re-injects the session's identity (startup, resume, clear, compact). */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { sqlite } from '../support/stores.js';
import { World } from '../support/world.js';
import { BIN, cleanEnv } from '../../src/channel/peer.js';

// SQLite-specific: runs on SQLite whatever CC_DM_TEST_STORES selects.

describe('SessionStart hook', () => {
  let w: World;
  before(async () => { w = await World.create(sqlite); });
  after(async () => { await w.close(); });

  const hook = (input: object, env: Record<string, string> = {}) => {
    const r = spawnSync(process.execPath, [BIN, 'hook', 'session-start'], { env: { ...cleanEnv(), ...w.env, ...env }, input: JSON.stringify(input), encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.hookSpecificOutput.hookEventName, 'SessionStart');
    return out.hookSpecificOutput.additionalContext as string;
  };

  test('finds its own session through the shared Claude Code parent, with the name it really holds', async () => {
    // The test process plays Claude Code: it is the parent of both the server and the hook.
    await w.start('hooked', { env: { CC_DM_SESSION_ROLE: 'tests' } });
    const other = await w.start('hook-peer');
    await other.call('dm', { to: 'hooked', content: 'waiting?' });
    const text = hook({ source: 'compact', hook_event_name: 'SessionStart' });
    assert.match(text, /you are "(hooked|hook-peer)"/);
    assert.match(text, /never with the built-in SendMessage/);
    assert.match(text, /just compacted: call history/);
  });

  test('falls back to the launch name when no server is found', () => {
    const text = hook({ source: 'startup' }, { CC_DM_HOME: `${w.home}/empty`, CC_DM_SESSION_NAME: 'solo-hook' });
    assert.match(text, /you are "solo-hook"/);
  });
});
