/**
 * The hook path with real processes (issue 14): a server under a stand-in Claude Code started
 * without the channel flag, the plugin's hook commands run as that Claude Code's children
 * (`cc-dm hook <event>`, straight from bin/cc-dm.js), and the plugin's presence script. The bell
 * is rung by the recipient's own server; a hook answers with exit code 2 and the framed text.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { stores } from '../support/stores.js';
import { World } from '../support/world.js';
import { fakeClaude, runHookUnder } from '../support/launcher.js';
import { until } from '../support/wait.js';
import { BIN, cleanEnv } from '../../src/channel/peer.js';

const PRESENCE = join(dirname(BIN), '..', 'hooks', 'presence.sh');

for (const fx of stores()) {
  describe(`hook path, real processes [${fx.kind}]`, () => {
    let w: World;
    let scratch: string;
    before(async () => {
      w = await World.create(fx);
      scratch = mkdtempSync(join(tmpdir(), 'ccdm-hookp-'));
    });
    after(async () => {
      await w.close();
      rmSync(scratch, { recursive: true, force: true });
    });

    test('a Claude Code without the channel flag: its hooks bind it, its server rings the bell, its FileChanged hook shows the mail', async () => {
      const launcher = fakeClaude();
      const bob = await w.start('hp-bob', { launcher: { command: launcher, args: ['--model', 'x'] } });
      const claudePid = bob.pid!;
      const transcript = join(scratch, 'bob.jsonl');
      writeFileSync(transcript, '');
      const start = await runHookUnder(launcher, claudePid, ['session-start'],
        JSON.stringify({ session_id: 'sess-1', transcript_path: transcript, source: 'startup', hook_event_name: 'SessionStart' }));
      assert.equal(start.code, 0, start.stderr);
      const out = JSON.parse(start.stdout).hookSpecificOutput;
      const bell = join(w.home, 'agents', String(claudePid), 'bell');
      assert.deepEqual(out.watchPaths, [bell]);
      assert.match(out.additionalContext, /you are "hp-bob"/);

      const alice = await w.start('hp-alice');
      const entry = (await alice.call('who')).body.sessions.find((s: any) => s.name === 'hp-bob');
      assert.equal(entry.path, 'hook');
      assert.equal(entry.agent, 'claude');
      const r = await alice.call('dm', { to: 'hp-bob', content: 'through the hooks' });
      assert.equal(r.body.will_see, 'now');
      await until(() => existsSync(bell) && readFileSync(bell, 'utf8').trim() !== '', 10_000, 'bob\'s server to ring its bell');

      const woke = await runHookUnder(launcher, claudePid, ['file-changed'],
        JSON.stringify({ session_id: 'sess-1', transcript_path: transcript, hook_event_name: 'FileChanged', file_path: bell, event: 'change' }));
      assert.equal(woke.code, 2, 'exit 2 hands stdout to the model');
      assert.equal(woke.stderr, '', 'nothing on stderr (Claude Code would show stderr instead)');
      assert.match(woke.stdout, new RegExp(`cc-dm message ${r.body.message_id} from "hp-alice" \\(session\\) to "hp-bob"`));
      assert.match(woke.stdout, /\[cc-dm ([0-9a-f]{12}) begin\]\nthrough the hooks\n\[cc-dm \1 end\]/);
      const t = w.cli(['trace', r.body.message_id, '--json']).json;
      assert.equal(t.recipients[0].delivered_via, 'hook');

      // The presence script, as the plugin runs it: Claude Code's pid names the folder.
      const sh = (state: string) => spawnSync('sh', [PRESENCE, state], {
        env: { ...cleanEnv(), ...w.env, CLAUDE_PID: String(claudePid) }, input: '{}', encoding: 'utf8',
      });
      assert.equal(sh('working').status, 0);
      const presence = async () => (await alice.call('who')).body.sessions.find((s: any) => s.name === 'hp-bob')?.presence;
      await until(async () => (await presence()) === 'working', 10_000, 'presence working in who');
      assert.equal(sh('idle').status, 0);
      await until(async () => (await presence()) === 'idle', 10_000, 'presence idle in who');
      assert.equal(spawnSync('sh', [PRESENCE, 'idle'], { env: { ...cleanEnv(), CLAUDE_PID: '1', CC_DM_HOME: w.home }, input: '' }).status, 0,
        'a Claude Code with no cc-dm server: nothing to do, no error');

      const whoText = w.cli(['who']);
      assert.match(whoText.stdout, /^hp-bob\s.*\shook\s+idle\s/m, 'who shows the path and the presence');
    });
  });
}
