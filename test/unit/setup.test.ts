/**
 * `cc-dm setup claude` against a stand-in `claude` that keeps Claude Code's files as the real one
 * does (known_marketplaces.json, installed_plugins.json, settings.json) and logs each call: a
 * marketplace of the same name from elsewhere is refused unless --force, an upgraded package is
 * refreshed, undo removes only what setup added. (test/e2e/install.test.ts does the same with the
 * real Claude Code.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN } from '../../src/channel/peer.js';

const FAKE = `#!${process.execPath}
const fs = require('node:fs'), path = require('node:path');
const dir = path.join(process.env.HOME, '.claude'), plugins = path.join(dir, 'plugins');
const read = (f, d) => { try { return JSON.parse(fs.readFileSync(f, 'utf8')); } catch { return d; } };
const write = (f, v) => { fs.mkdirSync(path.dirname(f), { recursive: true }); fs.writeFileSync(f, JSON.stringify(v, null, 2)); };
const args = process.argv.slice(2);
fs.appendFileSync(process.env.FAKE_CLAUDE_LOG, args.join(' ') + '\\n');
if (args[0] === '--version') { console.log('9.9.9 (Claude Code)'); process.exit(0); }
const known = path.join(plugins, 'known_marketplaces.json'), inst = path.join(plugins, 'installed_plugins.json'), settings = path.join(dir, 'settings.json');
const k = read(known, {}), i = read(inst, { version: 2, plugins: {} }), s = read(settings, {});
const cmd = args.slice(0, 3).join(' ');
if (cmd.startsWith('plugin marketplace add')) {
  const mdir = args[3]; const m = read(path.join(mdir, '.claude-plugin', 'marketplace.json'));
  k[m.name] = { source: { source: 'directory', path: mdir } };
  (s.extraKnownMarketplaces ??= {})[m.name] = { source: { source: 'directory', path: mdir } };
} else if (cmd.startsWith('plugin marketplace remove')) { delete k[args[3]]; delete (s.extraKnownMarketplaces ?? {})[args[3]]; }
else if (cmd.startsWith('plugin marketplace update')) {}
else if (args[1] === 'install' || args[1] === 'update') {
  const [name, market] = args[2].split('@');
  const m = read(path.join(k[market].source.path, '.claude-plugin', 'marketplace.json'));
  i.plugins[args[2]] = [{ scope: 'user', version: m.plugins[0].version }];
  (s.enabledPlugins ??= {})[args[2]] = true;
} else if (args[1] === 'uninstall') { delete i.plugins[args[2]]; delete (s.enabledPlugins ?? {})[args[2]]; }
else { console.error('fake claude: unexpected ' + args.join(' ')); process.exit(9); }
write(known, k); write(inst, i); write(settings, s);
`;

function world() {
  const root = mkdtempSync(join(tmpdir(), 'ccdm-setup-'));
  const bin = join(root, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'claude'), FAKE);
  chmodSync(join(bin, 'claude'), 0o755);
  const log = join(root, 'claude.log');
  const env = { PATH: `${bin}:${process.env.PATH}`, HOME: join(root, 'home'), CC_DM_HOME: join(root, 'ccdm'), FAKE_CLAUDE_LOG: log };
  mkdirSync(env.HOME);
  const run = (...args: string[]) => {
    writeFileSync(log, '');
    const r = spawnSync(process.execPath, [BIN, 'setup', ...args, '--json'], { env, encoding: 'utf8', timeout: 60_000 });
    return { code: r.status, out: r.stdout ? JSON.parse(r.stdout) : undefined, err: r.stderr, calls: readFileSync(log, 'utf8').split('\n').filter((l) => l && l !== '--version') };
  };
  const json = (f: string) => JSON.parse(readFileSync(join(env.HOME, '.claude', f), 'utf8'));
  return { root, env, run, json, done: () => rmSync(root, { recursive: true, force: true }) };
}

test('setup claude: adds, installs, is idempotent; undo removes exactly that', () => {
  const w = world();
  try {
    const market = join(w.env.CC_DM_HOME, 'claude-marketplace');
    const first = w.run('claude');
    assert.equal(first.code, 0, first.err);
    assert.deepEqual(first.calls, [`plugin marketplace add ${market}`, 'plugin install cc-dm@cc-dm']);
    assert.match(first.out.results[0].launch[0], /^CC_DM_SESSION_NAME=planner claude --dangerously-load-development-channels plugin:cc-dm@cc-dm$/);
    const again = w.run('claude');
    assert.deepEqual(again.calls, [], 'nothing to do the second time');
    assert.deepEqual(again.out.results[0].changed, []);
    const undo = w.run('--undo');
    assert.equal(undo.code, 0, undo.err);
    assert.deepEqual(undo.calls, ['plugin uninstall cc-dm@cc-dm', 'plugin marketplace remove cc-dm']);
    assert.ok(!existsSync(join(w.env.HOME, '.claude', 'settings.json')), 'a settings file setup created and left empty is removed');
    assert.ok(!existsSync(market));
  } finally {
    w.done();
  }
});

test('a marketplace named cc-dm from elsewhere is refused unless --force', () => {
  const w = world();
  try {
    mkdirSync(join(w.env.HOME, '.claude', 'plugins'), { recursive: true });
    writeFileSync(join(w.env.HOME, '.claude', 'plugins', 'known_marketplaces.json'), JSON.stringify({ 'cc-dm': { source: { source: 'directory', path: '/src/cc-dm' } } }));
    const refused = w.run('claude');
    assert.equal(refused.code, 3);
    assert.match(refused.err, /already has a marketplace named "cc-dm" from \/src\/cc-dm.*--force/);
    assert.deepEqual(refused.calls, []);
    const forced = w.run('claude', '--force');
    assert.equal(forced.code, 0, forced.err);
    assert.deepEqual(forced.calls.slice(0, 2), ['plugin marketplace remove cc-dm', `plugin marketplace add ${join(w.env.CC_DM_HOME, 'claude-marketplace')}`]);
    assert.match(forced.out.results[0].notes.join('\n'), /replaced the marketplace "cc-dm" that pointed at \/src\/cc-dm/);
  } finally {
    w.done();
  }
});

test('an older installed version is updated; the user settings keys that existed stay', () => {
  const w = world();
  try {
    writeFileSync(join(w.env.HOME, '.claude.json'), '{}');
    mkdirSync(join(w.env.HOME, '.claude'), { recursive: true });
    writeFileSync(join(w.env.HOME, '.claude', 'settings.json'), JSON.stringify({ enabledPlugins: { 'x@y': true }, model: 'opus' }));
    assert.equal(w.run('claude').code, 0);
    const inst = w.json('plugins/installed_plugins.json');
    inst.plugins['cc-dm@cc-dm'][0].version = '1.3.0';
    writeFileSync(join(w.env.HOME, '.claude', 'plugins', 'installed_plugins.json'), JSON.stringify(inst));
    const upgrade = w.run('claude');
    assert.deepEqual(upgrade.calls, ['plugin marketplace update cc-dm', 'plugin update cc-dm@cc-dm']);
    assert.match(upgrade.out.results[0].changed.join('\n'), /updated 1\.3\.0 -> /);
    assert.equal(w.run('--undo').code, 0);
    assert.deepEqual(w.json('settings.json'), { enabledPlugins: { 'x@y': true }, model: 'opus' });
    const unknown = spawnSync(process.execPath, [BIN, 'setup', 'vscode'], { env: w.env, encoding: 'utf8' });
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /cannot set up vscode: it knows claude/);
  } finally {
    w.done();
  }
});
