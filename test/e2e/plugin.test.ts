// End-to-end: the Claude Code plugin itself. It installs from the clone through the local
// marketplace, `claude mcp list` reports its server connected, its SessionStart hook puts the
// session's identity into the model's context (again after /clear), and its skills and tools
// are offered to the model.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { PLUGIN_SERVER, PLUGIN_TOOL_PREFIX, REPO_ROOT, withEnv } from './claude.js';
import { isMainLoopRequest, messagesText, requestText } from './standin.js';
import { requirePrerequisites } from './common.js';

requirePrerequisites();

test('the plugin installs from the clone and `claude mcp list` reports its server connected', async () => {
  await withEnv('plugin', async (env) => {
    const installed = JSON.parse(fs.readFileSync(path.join(env.home, '.claude', 'plugins', 'installed_plugins.json'), 'utf8'));
    assert.ok(installed.plugins?.['cc-dm@cc-dm'], `cc-dm@cc-dm is installed: ${JSON.stringify(installed)}`);
    const known = JSON.parse(fs.readFileSync(path.join(env.home, '.claude', 'plugins', 'known_marketplaces.json'), 'utf8'));
    assert.equal(known['cc-dm']?.source?.path, REPO_ROOT, 'the marketplace is the clone itself');

    const list = await env.claudeCommand(['mcp', 'list'], 60_000);
    const line = list.stdout.split('\n').find((l) => l.includes(PLUGIN_SERVER));
    assert.ok(line, `claude mcp list shows ${PLUGIN_SERVER}:\n${list.stdout}${list.stderr}`);
    assert.match(line!, /bin\/cc-dm\.js serve/);
    assert.match(line!, /Connected/, `the server is connected: ${line}`);
  });
});

test('a plugin copy without its dependencies fails fast, saying what to run', async () => {
  await withEnv(
    'plugin-nodeps',
    async (env) => {
      // A marketplace holding real copies of the plugin's own files, but no node_modules or dist.
      const mkt = path.join(env.root, 'bare-marketplace');
      fs.mkdirSync(path.join(mkt, 'plugin'), { recursive: true });
      fs.cpSync(path.join(REPO_ROOT, '.claude-plugin'), path.join(mkt, '.claude-plugin'), { recursive: true });
      for (const f of ['.claude-plugin', 'hooks', 'skills', 'bin', 'package.json']) {
        fs.cpSync(path.join(REPO_ROOT, f), path.join(mkt, 'plugin', f), { recursive: true, dereference: true });
      }
      await env.installPlugin(mkt);
      const t0 = Date.now();
      const list = await env.claudeCommand(['mcp', 'list'], 60_000);
      const took = Date.now() - t0;
      const line = list.stdout.split('\n').find((l) => l.includes(PLUGIN_SERVER));
      assert.ok(line, `claude mcp list shows ${PLUGIN_SERVER}:\n${list.stdout}${list.stderr}`);
      assert.match(line!, /Failed/, `the server fails: ${line}`);
      assert.ok(took < 20_000, `claude mcp list answered in ${took} ms (not after a start timeout)`);
      // What Claude Code logs from the server's stderr names the command to run.
      const run = spawnSync(process.execPath, [path.join(mkt, 'plugin', 'bin', 'cc-dm.js'), 'serve'], {
        input: '', encoding: 'utf8', timeout: 10_000, env: env.baseEnv(),
      });
      assert.notEqual(run.status, 0);
      assert.match(run.stderr, /npm install/, `the error says what to run: ${run.stderr}`);
    },
    { installPlugin: false },
  );
});

test('the SessionStart hook puts the identity into the model context at start, after /clear and after /compact', async () => {
  await withEnv('hook', async (env) => {
    const gina = await env.startInteractive({ name: 'gina', role: 'tester', project: 'shop' });
    gina.type('First prompt ALPHA.');
    const first = await gina.standin.waitForRequest(
      (r) => isMainLoopRequest(r) && messagesText(r).includes('First prompt ALPHA'),
      "gina's first model request",
    );
    const text = messagesText(first);
    assert.match(text, /cc-dm identity: you are "gina"/, 'the identity from the hook is in the context');
    assert.match(text, /tester/, 'with the role');
    // The plugin's skills are offered to the model.
    const all = requestText(first);
    assert.match(all, /cc-dm-messaging/, 'the messaging skill is listed');
    assert.match(all, /cc-dm-identity/, 'the identity skill is listed');

    gina.type('/clear');
    // The next prompt is typed once the clear is done (its SessionStart hook has run): typed
    // sooner, it may reach the input box while /clear still owns it.
    await gina.waitForDebug(/SessionStart:clear/, 'the SessionStart hook run for /clear', 30_000);
    gina.type('Second prompt BETA.');
    const second = await gina.standin.waitForRequest(
      (r) => isMainLoopRequest(r) && messagesText(r).includes('Second prompt BETA'),
      "gina's first model request after /clear",
      30_000,
      first.seq + 1,
    );
    const text2 = messagesText(second);
    assert.ok(!text2.includes('First prompt ALPHA'), 'the context was cleared');
    assert.match(text2, /cc-dm identity: you are "gina"/, 'the identity is given again after /clear');

    // After a compaction (its summary comes from the stand-in too) the identity is given again.
    gina.type('/compact');
    await gina.waitForDebug(/SessionStart:compact/, 'the SessionStart hook run for the compaction', 30_000);
    gina.type('Third prompt GAMMA.');
    const third = await gina.standin.waitForRequest(
      (r) => isMainLoopRequest(r) && messagesText(r).includes('Third prompt GAMMA'),
      "gina's first model request after /compact",
      30_000,
      second.seq + 1,
    );
    const text3 = messagesText(third);
    assert.ok(!text3.includes('Second prompt BETA'), 'the context was compacted');
    assert.match(text3, /cc-dm identity: you are "gina"/, 'the identity is given again after compaction');
    // And its tools, deferred. Not necessarily in the first request: Claude Code lists a server's
    // tools after it has connected, and under load (2 cores, e2e two files at a time) a prompt
    // typed at once went out before (once, in a CI run).
    const offered = gina.standin.messageRequests().filter(isMainLoopRequest).some((r) => requestText(r).includes(`${PLUGIN_TOOL_PREFIX}dm`));
    assert.ok(offered, `the dm tool is offered as ${PLUGIN_TOOL_PREFIX}dm`);
  });
});
