// End-to-end: cc-dm installed the way people install things. `npm pack` of this clone installed
// with npm into a temporary prefix; `cc-dm setup claude` registers it with the real Claude Code
// (throwaway HOME, offline) and prints the launch line; a session started that way gets a dm as
// a <channel> event; setup again changes nothing; `cc-dm setup --undo` leaves the user's own
// settings exactly as they were. Also: a project install (dependencies hoisted next to cc-dm)
// starts, and the npm-source marketplace entry passes Claude Code's own validation.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { CLAUDE_BIN, PLUGIN_CHANNEL, PLUGIN_SERVER, REPO_ROOT, pluginTool, waitUntil, withEnv, type E2eEnv } from './claude.js';
import { callToolsScript, channelsIn, hasChannel } from './flows.js';
import { installTarball, packClone, tarballFiles, type Packed } from './package.js';
import { requirePrerequisites } from './common.js';

requirePrerequisites();

const DM = pluginTool('dm');
let packed: Packed;

before(() => {
  packed = packClone();
});
after(() => {
  fs.rmSync(packed.dir, { recursive: true, force: true });
});

/** Runs an installed cc-dm with this test's HOME and store, `claude` on PATH, no API key. */
function ccdm(env: E2eEnv, bin: string, args: string[], pathDirs: string[] = []) {
  const e = env.baseEnv();
  delete e.ANTHROPIC_API_KEY; // `claude plugin ...` spends ~17 s on network attempts with a key, offline
  e.PATH = [...pathDirs, e.PATH].join(':');
  const r = spawnSync(bin, args, { cwd: env.cwd, env: e, encoding: 'utf8', timeout: 240_000 });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

test('the packed package carries the plugin: manifest, marketplaces, hooks, skills, server', () => {
  const files = tarballFiles(packed.tarball);
  for (const f of [
    '.claude-plugin/plugin.json',
    '.claude-plugin/marketplace.json',
    'npm-marketplace/.claude-plugin/marketplace.json',
    'hooks/hooks.json',
    'bin/cc-dm.js',
    'dist/src/channel/main.js',
    'dist/src/cli/setup/claude.js',
    'package.json',
  ]) {
    assert.ok(files.includes(f), `${f} is in the package`);
  }
  assert.ok(files.some((f) => f.startsWith('skills/') && f.endsWith('SKILL.md')), 'the skills are in the package');
  assert.ok(!files.some((f) => f.startsWith('dist/test/') || f.startsWith('test/') || f === 'package-lock.json'), 'no tests, no lockfile');
});

test('npm install -g of the tarball, cc-dm setup claude, a session started as printed gets a dm; setup --undo restores the settings', async () => {
  await withEnv(
    'install',
    async (env) => {
      const pkg = installTarball(packed.tarball, path.join(env.root, 'prefix'), true);
      // `claude` on PATH, as for a user who installed Claude Code.
      const claudeDir = path.join(env.root, 'claude-bin');
      fs.mkdirSync(claudeDir);
      fs.symlinkSync(CLAUDE_BIN, path.join(claudeDir, 'claude'));
      // The user's own Claude Code settings, which setup and undo must leave as they are.
      const settingsFile = path.join(env.home, '.claude', 'settings.json');
      fs.mkdirSync(path.dirname(settingsFile), { recursive: true });
      const own = { cleanupPeriodDays: 99, permissions: { allow: ['Bash(ls:*)'] }, enabledPlugins: { 'other@elsewhere': false } };
      fs.writeFileSync(settingsFile, JSON.stringify(own, null, 2));

      const setup = ccdm(env, pkg.bin, ['setup', 'claude'], [claudeDir]);
      assert.equal(setup.code, 0, `cc-dm setup claude: ${setup.stdout}${setup.stderr}`);
      assert.ok(
        setup.stdout.includes(`CC_DM_SESSION_NAME=planner claude --dangerously-load-development-channels ${PLUGIN_CHANNEL}`),
        `setup prints the launch line:\n${setup.stdout}`,
      );
      const plugins = path.join(env.home, '.claude', 'plugins');
      const installed = JSON.parse(fs.readFileSync(path.join(plugins, 'installed_plugins.json'), 'utf8'));
      assert.equal(installed.plugins?.['cc-dm@cc-dm']?.[0]?.version, packed.version, 'cc-dm@cc-dm is installed at the package version');
      const known = JSON.parse(fs.readFileSync(path.join(plugins, 'known_marketplaces.json'), 'utf8'));
      const market = path.join(env.ccdmHome, 'claude-marketplace');
      assert.equal(known['cc-dm']?.source?.path, market);
      assert.equal(fs.realpathSync(path.join(market, 'plugin')), fs.realpathSync(pkg.root), 'the plugin is the installed package');

      // Idempotent: a second run changes nothing.
      const again = ccdm(env, pkg.bin, ['setup', 'claude', '--json'], [claudeDir]);
      assert.equal(again.code, 0, again.stderr);
      const r2 = JSON.parse(again.stdout).results[0];
      assert.deepEqual(r2.changed, [], `nothing changed the second time: ${again.stdout}`);
      assert.ok(r2.kept.length >= 3, JSON.stringify(r2.kept));

      // Claude Code starts the server from the installed package.
      const list = await env.claudeCommand(['mcp', 'list'], 90_000);
      const line = list.stdout.split('\n').find((l) => l.includes(PLUGIN_SERVER));
      assert.ok(line?.includes(path.join(market, 'plugin', 'bin', 'cc-dm.js')), `the server runs from the package: ${line}`);
      assert.match(line!, /Connected/);

      // A session started as printed (the harness's launch is that line) receives a dm.
      const bob = await env.startInteractive({ name: 'bob', role: 'builder' });
      const content = `From the npm install (${randomUUID()})`;
      const alice = await env.runHeadless({
        name: 'alice',
        prompt: 'Tell bob.',
        allowedTools: [DM],
        script: callToolsScript([{ tool: DM, input: { to: 'bob', content } }]),
      });
      assert.equal(alice.code, 0, alice.stderr || alice.stdout);
      const req = await bob.standin.waitForRequest(hasChannel((e) => e.content === content), "bob's model request carrying the dm", 60_000);
      const ev = channelsIn(req).find((e) => e.content === content)!;
      assert.equal(ev.attrs.from_session, 'alice');
      assert.equal(ev.attrs.source, PLUGIN_SERVER);
      // The installed CLI sees the same store.
      await waitUntil(
        () => {
          const t = ccdm(env, pkg.bin, ['trace', ev.attrs.message_id!, '--json']);
          return t.code === 0 && JSON.parse(t.stdout).recipients?.[0]?.state === 'delivered';
        },
        'the dm recorded as delivered (installed cc-dm trace)',
        15_000,
      );
      await bob.stop();

      const beforeUndo = JSON.parse(fs.readFileSync(settingsFile, 'utf8'));
      assert.equal(beforeUndo.enabledPlugins['cc-dm@cc-dm'], true);
      const undo = ccdm(env, pkg.bin, ['setup', '--undo'], [claudeDir]);
      assert.equal(undo.code, 0, `cc-dm setup --undo: ${undo.stdout}${undo.stderr}`);
      const after = JSON.parse(fs.readFileSync(path.join(plugins, 'installed_plugins.json'), 'utf8'));
      assert.equal(after.plugins?.['cc-dm@cc-dm'], undefined, 'the plugin is uninstalled');
      const knownAfter = JSON.parse(fs.readFileSync(path.join(plugins, 'known_marketplaces.json'), 'utf8'));
      assert.equal(knownAfter['cc-dm'], undefined, 'the marketplace is removed');
      // The user's own settings are as they were; what setup added is gone; nothing else added.
      // (Claude Code itself may have written other keys while the sessions ran: those stay.)
      const settingsAfter = JSON.parse(fs.readFileSync(settingsFile, 'utf8'));
      for (const [k, v] of Object.entries(own)) assert.deepEqual(settingsAfter[k], v, `the user's ${k} is as before`);
      assert.equal(settingsAfter.extraKnownMarketplaces, undefined, 'the key setup added is removed');
      for (const k of Object.keys(settingsAfter)) assert.ok(k in beforeUndo, `undo added no ${k}`);
      assert.ok(!fs.existsSync(market), 'the marketplace folder is removed');
      assert.ok(fs.existsSync(pkg.root), 'the package itself is untouched');
      assert.ok(!fs.existsSync(path.join(env.ccdmHome, 'setup.json')), 'no setup record is left');
      const twice = ccdm(env, pkg.bin, ['setup', '--undo'], [claudeDir]);
      assert.equal(twice.code, 0);
      assert.match(twice.stdout, /nothing to undo/);
    },
    { installPlugin: false },
  );
});

test('a project install (dependencies hoisted next to cc-dm) starts; a missing dependency is named', async () => {
  await withEnv(
    'install-hoisted',
    async (env) => {
      const pkg = installTarball(packed.tarball, path.join(env.root, 'project'), false);
      assert.ok(!fs.existsSync(path.join(pkg.root, 'node_modules', 'zod')), 'zod is hoisted, not under cc-dm');
      const who = ccdm(env, pkg.bin, ['who', '--json']);
      assert.equal(who.code, 0, `node_modules/.bin/cc-dm who: ${who.stderr}`);
      assert.deepEqual(JSON.parse(who.stdout), []);
      const version = ccdm(env, pkg.bin, ['--version']);
      assert.equal(version.stdout.trim(), packed.version);
      fs.renameSync(path.join(env.root, 'project', 'node_modules', 'zod'), path.join(env.root, 'zod-away'));
      const broken = ccdm(env, pkg.bin, ['who']);
      assert.equal(broken.code, 1);
      assert.match(broken.stderr, /missing zod/);
      assert.match(broken.stderr, /npm install -g cc-dm/);
    },
    { installPlugin: false },
  );
});

test("the npm-source marketplace entry passes Claude Code's validation", async () => {
  await withEnv(
    'npm-marketplace',
    async (env) => {
      const dir = path.join(REPO_ROOT, 'npm-marketplace');
      const manifest = JSON.parse(fs.readFileSync(path.join(dir, '.claude-plugin', 'marketplace.json'), 'utf8'));
      const entry = manifest.plugins.find((p: { name: string }) => p.name === 'cc-dm');
      assert.deepEqual(entry.source, { source: 'npm', package: 'cc-dm', version: `^${packed.version}` });
      assert.equal(manifest.name, 'cc-dm', 'same marketplace name: the launch line stays plugin:cc-dm@cc-dm');
      const r = await env.claudeCommand(['plugin', 'validate', dir], 60_000);
      assert.equal(r.code, 0, `claude plugin validate: ${r.stdout}${r.stderr}`);
    },
    { installPlugin: false },
  );
});
