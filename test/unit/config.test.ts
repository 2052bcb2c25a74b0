/**
 * The optional config file ($CC_DM_HOME/config.toml or config.json): validated by the rules of
 * the environment, the environment winning, every value's source known, a password never shown.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeConfig, loadConfig, scrubUrl } from '../../src/config.js';
import { BIN } from '../../src/channel/peer.js';

function home(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'ccdm-cfg-'));
  for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
  return dir;
}

const TOML = `
# a team's shared settings
database_url = "postgres://ccdm:s3cret@db.example:5432/ccdm?sslpassword=hush&application_name=cc"
retention_days = 7
rate_limit = 100
dm_blocklist = ["Mallory", " eve "]
wake = false
permission_relay = true
log_level = "warn"
`;

test('config.toml: values from the file, the environment winning, each with its source', () => {
  const dir = home({ 'config.toml': TOML });
  try {
    const cfg = loadConfig({ CC_DM_HOME: dir, CC_DM_RATE_LIMIT: '50', CC_DM_LOG_LEVEL: '' });
    assert.equal(cfg.configFile, join(dir, 'config.toml'));
    assert.equal(cfg.storeKind, 'postgres');
    assert.equal(cfg.retentionDays, 7);
    assert.equal(cfg.rateLimit, 50, 'the environment wins');
    assert.deepEqual(cfg.dmBlocklist, ['mallory', 'eve'], 'a list is read as the comma list of the variable');
    assert.equal(cfg.wake, false);
    assert.equal(cfg.permissionRelay, true);
    assert.equal(cfg.logLevel, 'warn', 'an empty environment value counts as unset');
    assert.equal(cfg.sources.CC_DM_RETENTION_DAYS, 'file');
    assert.equal(cfg.sources.CC_DM_RATE_LIMIT, 'env');
    assert.equal(cfg.sources.CC_DM_POLL_MS, 'default');
    assert.equal(cfg.sources.CC_DM_HOME, 'env');
    const rows = describeConfig(cfg);
    const row = (k: string) => rows.find((r) => r.setting === k)!;
    assert.deepEqual(row('CC_DM_RETENTION_DAYS'), { setting: 'CC_DM_RETENTION_DAYS', file_key: 'retention_days', value: '7', source: 'file' });
    assert.equal(row('CC_DM_RATE_LIMIT').source, 'env');
    assert.equal(row('CC_DM_POLL_MS').value, '5000');
    assert.ok(!JSON.stringify(rows).includes('s3cret') && !JSON.stringify(rows).includes('hush'), 'no password anywhere');
    assert.match(row('CC_DM_DATABASE_URL').value, /^postgres:\/\/ccdm:\*\*\*@db\.example:5432\/ccdm\?sslpassword=\*\*\*&application_name=cc$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('config.json is read the same way', () => {
  const dir = home({ 'config.json': JSON.stringify({ retention_days: 3, dm_allowlist: ['a', 'b'], push: 'off' }) });
  try {
    const cfg = loadConfig({ CC_DM_HOME: dir });
    assert.equal(cfg.retentionDays, 3);
    assert.deepEqual(cfg.dmAllowlist, ['a', 'b']);
    assert.equal(cfg.push, 'off');
    // The allow and block lists are one rule whichever source each comes from.
    assert.throws(() => loadConfig({ CC_DM_HOME: dir, CC_DM_DM_BLOCKLIST: 'c' }), /dm_allowlist in .*config\.json and CC_DM_DM_BLOCKLIST are both set/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a bad config file is a clear error naming the file and the key, with the rules of the environment', () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ 'config.toml': 'retention_days = 0' }, /retention_days = 0 in .*config\.toml is invalid: expected a whole number from 1 to 36500/],
    [{ 'config.toml': 'push = "maybe"' }, /push = maybe in .*config\.toml is invalid: expected auto, on or off/],
    [{ 'config.toml': 'database_url = "mysql://x"' }, /database_url in .*config\.toml must start with postgres:\/\//],
    [{ 'config.toml': 'session_role = "bad/role"' }, /session_role in .*config\.toml/],
    [{ 'config.toml': 'retention_dayz = 3' }, /unknown setting "retention_dayz"\. Settings: .*retention_days/],
    [{ 'config.toml': 'session_name = "x"' }, /"session_name" cannot be set in a config file .*CC_DM_SESSION_NAME/],
    [{ 'config.toml': 'home = "/x"' }, /"home" cannot be set in a config file .*CC_DM_HOME/],
    [{ 'config.toml': 'retention_days = ' }, /config\.toml cannot be read \(line 1/],
    [{ 'config.toml': 'retention_days = { days = 3 }' }, /retention_days in .*must be a string, a number, true\/false or a list of strings/],
    [{ 'config.json': '{"retention_days": 3,' }, /config\.json cannot be read/],
    [{ 'config.json': '[1]' }, /must hold a table \(TOML\) or an object \(JSON\)/],
    [{ 'config.toml': 'wake = true', 'config.json': '{}' }, /both exist: keep one of them/],
  ];
  for (const [files, re] of cases) {
    const dir = home(files);
    try {
      assert.throws(() => loadConfig({ CC_DM_HOME: dir }), (e: any) => e.code === 'E_CONFIG' || e.code === 'E_INVALID' ? (assert.match(e.message, re), true) : false, JSON.stringify(files));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('scrubUrl hides passwords in the user part and the query', () => {
  assert.equal(scrubUrl('postgres://u:p@h:5432/db'), 'postgres://u:***@h:5432/db');
  assert.equal(scrubUrl('postgres://h/db?password=x&sslmode=require'), 'postgres://h/db?password=***&sslmode=require');
  assert.equal(scrubUrl('postgres://u@h/db'), 'postgres://u@h/db');
  assert.equal(scrubUrl('not a url'), '(unparsable URL)');
});

test('cc-dm config prints every setting with its source, and no password', () => {
  const dir = home({ 'config.toml': TOML });
  try {
    const env = { PATH: process.env.PATH ?? '', HOME: dir, CC_DM_HOME: dir, CC_DM_RETENTION_DAYS: '12' };
    const r = spawnSync(process.execPath, [BIN, 'config', '--json'], { env, encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.config_file, join(dir, 'config.toml'));
    const days = out.settings.find((s: any) => s.setting === 'CC_DM_RETENTION_DAYS');
    assert.deepEqual([days.value, days.source], ['12', 'env']);
    assert.equal(out.settings.find((s: any) => s.setting === 'CC_DM_WAKE').source, 'file');
    const text = spawnSync(process.execPath, [BIN, 'config'], { env, encoding: 'utf8', timeout: 30_000 });
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /config file: .*config\.toml/);
    assert.match(text.stdout, /CC_DM_RATE_LIMIT\s+100\s+file\s+rate_limit/);
    assert.ok(!(r.stdout + text.stdout).includes('s3cret'), 'no password printed');
    // A bad file: exit 2 (configuration), the reason on stderr.
    writeFileSync(join(dir, 'config.toml'), 'poll_ms = "soon"');
    const bad = spawnSync(process.execPath, [BIN, 'config'], { env, encoding: 'utf8', timeout: 30_000 });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /poll_ms = soon in .*config\.toml is invalid/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('cc-dm doctor warns about a config file that holds a password and others can read', () => {
  const dir = home({ 'config.toml': 'retention_days = 5\n# database_url = "postgres://u:pw@h/db"\n' });
  try {
    chmodSync(join(dir, 'config.toml'), 0o644);
    const env = { PATH: process.env.PATH ?? '', HOME: dir, CC_DM_HOME: dir };
    const doctor = () => JSON.parse(spawnSync(process.execPath, [BIN, 'doctor', '--json'], { env, encoding: 'utf8', timeout: 60_000 }).stdout);
    const check = () => doctor().checks.find((c: { check: string }) => c.check === 'config file');
    assert.equal(check().status, 'warn');
    assert.match(check().fix, /chmod 600/);
    chmodSync(join(dir, 'config.toml'), 0o600);
    assert.equal(check().status, 'ok');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
