/**
 * `cc-dm doctor`'s channels check on fixture settings files: every gate Claude Code applies to a
 * session started as documented, read from the files Claude Code reads, with what to change.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { loadConfig } from '../../src/config.js';
import { channelFacts, channelVerdict } from '../../src/cli/channels.js';
import { BIN } from '../../src/channel/peer.js';

interface Fixture {
  managed?: Record<string, unknown>;
  dropIns?: Record<string, Record<string, unknown>>;
  remote?: Record<string, unknown>;
  credentials?: Record<string, unknown>;
  settings?: Record<string, unknown>;
  flags?: Record<string, unknown>;
  installed?: boolean;
  env?: Record<string, string>;
}

function world(f: Fixture) {
  const root = mkdtempSync(join(tmpdir(), 'ccdm-chan-'));
  const claudeDir = join(root, 'claude');
  const managedDir = join(root, 'etc-claude-code');
  const write = (file: string, data: unknown) => {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(data));
  };
  mkdirSync(claudeDir, { recursive: true });
  if (f.managed) write(join(managedDir, 'managed-settings.json'), f.managed);
  for (const [name, data] of Object.entries(f.dropIns ?? {})) write(join(managedDir, 'managed-settings.d', name), data);
  if (f.remote) write(join(claudeDir, 'remote-settings.json'), f.remote);
  if (f.credentials) write(join(claudeDir, '.credentials.json'), f.credentials);
  write(join(claudeDir, 'settings.json'), f.settings ?? { enabledPlugins: { 'cc-dm@cc-dm': true } });
  write(join(claudeDir, '.claude.json'), { cachedGrowthBookFeatures: f.flags ?? { tengu_harbor: true } });
  if (f.installed !== false)
    write(join(claudeDir, 'plugins', 'installed_plugins.json'), {
      version: 2,
      plugins: { 'cc-dm@cc-dm': [{ scope: 'user', version: '2.0.0', installPath: '/x' }] },
    });
  const env = {
    CC_DM_HOME: join(root, 'ccdm'),
    CLAUDE_CONFIG_DIR: claudeDir,
    CC_DM_CLAUDE_MANAGED_DIR: managedDir,
    ...(f.env ?? { ANTHROPIC_API_KEY: 'sk-ant-test' }),
  };
  const cfg = loadConfig(env);
  const verdict = channelVerdict(channelFacts(cfg, f.installed === false ? undefined : 'cc-dm@cc-dm'));
  return { root, env, verdict, done: () => rmSync(root, { recursive: true, force: true }) };
}

function check(f: Fixture, shown: boolean, problem?: RegExp, fix?: RegExp) {
  const w = world(f);
  try {
    assert.equal(w.verdict.shown, shown, JSON.stringify(w.verdict, null, 1));
    if (problem) assert.match(w.verdict.problems.map((p) => p.why).join('\n'), problem);
    if (fix) assert.match(w.verdict.problems.map((p) => p.fix).join('\n'), fix);
    assert.equal(w.verdict.launch, 'CC_DM_SESSION_NAME=<name> claude --dangerously-load-development-channels plugin:cc-dm@cc-dm');
  } finally {
    w.done();
  }
}

const TEAM = { claudeAiOauth: { accessToken: 'x', subscriptionType: 'team' } };

test('a Console API key, no managed settings, the plugin installed: pushes are shown', () => {
  check({}, true);
});

test('claude.ai Team or Enterprise: the org must set channelsEnabled (managed file, drop-in or server-managed)', () => {
  check({ credentials: TEAM, env: {} }, false, /org has not allowed channels \(claude\.ai team/, /"channelsEnabled": true in managed settings/);
  check({ credentials: { claudeAiOauth: { subscriptionType: 'enterprise' } }, env: {} }, false, /claude\.ai enterprise/);
  check({ credentials: TEAM, env: {}, managed: { channelsEnabled: true } }, true);
  check({ credentials: TEAM, env: {}, managed: { channelsEnabled: false }, dropIns: { '50-channels.json': { channelsEnabled: true } } }, true);
  check({ credentials: TEAM, env: {}, dropIns: { '10-a.json': { channelsEnabled: true }, '20-b.json': { channelsEnabled: false } } }, false);
  check({ credentials: TEAM, env: {}, remote: { settings: { channelsEnabled: true } } }, true);
  // A Pro or Max login is not gated by the org policy.
  check({ credentials: { claudeAiOauth: { subscriptionType: 'max' } }, env: {} }, true);
});

test('a Console login under managed settings without channelsEnabled: channels are off', () => {
  check({ managed: { permissions: { deny: [] } } }, false, /managed settings exist \(.*managed-settings\.json\) without "channelsEnabled": true/, /an admin adds "channelsEnabled": true/);
  check({ managed: { channelsEnabled: true } }, true);
});

test('third-party providers, the account flag, a missing or disabled plugin', () => {
  check({ env: { ANTHROPIC_API_KEY: 'k', CLAUDE_CODE_USE_BEDROCK: '1' } }, false, /third-party provider \(CLAUDE_CODE_USE_BEDROCK/, /unset CLAUDE_CODE_USE_BEDROCK/);
  check({ env: { ANTHROPIC_API_KEY: 'k', CLAUDE_CODE_USE_VERTEX: '0' } }, true);
  check({ flags: { tengu_harbor: false } }, false, /not available to this account yet/);
  check({ installed: false }, false, /not installed/, /cc-dm setup claude/);
  check({ settings: { enabledPlugins: { 'cc-dm@cc-dm': false } } }, false, /disabled/, /claude plugin enable cc-dm@cc-dm/);
});

test('the allowlist: --channels without the development flag needs allowedChannelPlugins', () => {
  const none = world({});
  const listed = world({ managed: { channelsEnabled: true, allowedChannelPlugins: [{ plugin: 'cc-dm', marketplace: 'cc-dm' }] } });
  try {
    assert.match(none.verdict.notes.join('\n'), /"allowedChannelPlugins": \[\{"plugin": "cc-dm", "marketplace": "cc-dm"\}\]/);
    assert.match(listed.verdict.notes.join('\n'), /the org allowlists cc-dm@cc-dm .*--channels plugin:cc-dm@cc-dm works/);
  } finally {
    none.done();
    listed.done();
  }
});

test('cc-dm doctor: without pushes the hook path carries the mail; the channels check warns only when hooks cannot either', () => {
  const w = world({ credentials: TEAM, env: {} });
  const managed = join(w.env.CC_DM_CLAUDE_MANAGED_DIR, 'managed-settings.json');
  const doctor = () => {
    const r = spawnSync(process.execPath, [BIN, 'doctor', '--json'], {
      cwd: w.root,
      env: { PATH: process.env.PATH ?? '', HOME: w.root, ...w.env },
      encoding: 'utf8',
      timeout: 60_000,
    });
    const checks: { check: string; status: string; detail: string; fix?: string }[] = JSON.parse(r.stdout).checks;
    const of = (name: string) => checks.find((x) => x.check === name)!;
    return { channels: of('channels'), hooks: of('hooks'), all: JSON.stringify(checks) };
  };
  try {
    let d = doctor();
    assert.equal(d.hooks.status, 'ok', d.all);
    assert.equal(d.channels.status, 'ok', 'channels are optional while hooks run');
    assert.match(d.channels.detail, /would not show cc-dm's pushes .*sessions use the hook path/);
    assert.match(d.channels.fix!, /channelsEnabled/);

    // Measured: allowManagedHooksOnly counts only from managed settings.
    writeFileSync(join(w.env.CLAUDE_CONFIG_DIR, 'settings.json'), JSON.stringify({ enabledPlugins: { 'cc-dm@cc-dm': true }, allowManagedHooksOnly: true }));
    assert.equal(doctor().hooks.status, 'ok', 'allowManagedHooksOnly in user settings is ignored');

    mkdirSync(w.env.CC_DM_CLAUDE_MANAGED_DIR, { recursive: true });
    writeFileSync(managed, JSON.stringify({ allowManagedHooksOnly: true }));
    d = doctor();
    assert.equal(d.hooks.status, 'warn');
    assert.match(d.hooks.detail, /allowManagedHooksOnly is true in managed settings/);
    assert.match(d.hooks.detail, /only when its model calls inbox/);
    assert.equal(d.channels.status, 'warn', 'neither pushes nor hooks: a warning');

    writeFileSync(managed, JSON.stringify({ allowManagedHooksOnly: true, channelsEnabled: true }));
    d = doctor();
    assert.equal(d.channels.status, 'ok', d.all);
    assert.match(d.channels.detail, /shows cc-dm's pushes/);

    writeFileSync(managed, JSON.stringify({ channelsEnabled: true }));
    writeFileSync(join(w.env.CLAUDE_CONFIG_DIR, 'settings.json'), JSON.stringify({ enabledPlugins: { 'cc-dm@cc-dm': true }, disableAllHooks: true }));
    mkdirSync(join(w.root, '.claude'));
    writeFileSync(join(w.root, '.claude', 'settings.local.json'), JSON.stringify({ disableAllHooks: true }));
    d = doctor();
    assert.equal(d.hooks.status, 'warn');
    assert.match(d.hooks.detail, /disableAllHooks is true in .*claude\/settings\.json.*disableAllHooks is true in .*settings\.local\.json/);
    assert.match(d.hooks.fix!, /remove disableAllHooks/);
  } finally {
    w.done();
  }
});
