/**
 * `cc-dm setup codex` and `cc-dm setup gemini` against temp homes. Codex's trust needs `codex
 * app-server`'s hooks/list: here a stand-in `codex` that lists the hooks of hooks.json the way
 * Codex keys them (`<file>:<event>:<group>:<handler>`) with a hash of the handler, and reads trust
 * from config.toml's `[hooks.state."<key>"]`. (The real Codex reads it back in
 * test/e2e/agent-peers.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { BIN } from '../../src/channel/peer.js';
import { headerPath, removeTables } from '../../src/cli/setup/toml-text.js';
import { SERVER_NODE_FLAGS } from '../../src/launch.js';

const FAKE_CODEX = `#!${process.execPath}
const fs = require('node:fs'), path = require('node:path'), crypto = require('node:crypto');
const args = process.argv.slice(2);
if (args[0] === '--version') { console.log('codex-cli 0.0.0-standin'); process.exit(0); }
if (args[0] !== 'app-server') { console.error('unexpected ' + args.join(' ')); process.exit(9); }
const home = process.env.CODEX_HOME;
const snake = (e) => e.replace(/[A-Z]/g, (c, i) => (i ? '_' : '') + c.toLowerCase());
let buf = '';
process.stdin.on('data', (d) => {
  buf += d;
  let i;
  while ((i = buf.indexOf('\\n')) >= 0) {
    const m = JSON.parse(buf.slice(0, i)); buf = buf.slice(i + 1);
    if (m.id === undefined) continue;
    let result = {};
    if (m.method === 'hooks/list') {
      const file = path.join(home, 'hooks.json');
      const hj = JSON.parse(fs.readFileSync(file, 'utf8'));
      const cfg = fs.existsSync(path.join(home, 'config.toml')) ? fs.readFileSync(path.join(home, 'config.toml'), 'utf8') : '';
      const hooks = [];
      for (const [ev, groups] of Object.entries(hj.hooks ?? {})) groups.forEach((g, gi) => g.hooks.forEach((h, hi) => {
        const key = file + ':' + snake(ev) + ':' + gi + ':' + hi;
        const currentHash = 'sha256:' + crypto.createHash('sha256').update(JSON.stringify(h)).digest('hex');
        const re = new RegExp('\\\\[hooks\\\\.state\\\\.' + JSON.stringify(key).replace(/[.*+?^$()|[\\]\\\\]/g, '\\\\$&') + '\\\\]\\\\ntrusted_hash = "([^"]+)"');
        const t = re.exec(cfg);
        hooks.push({ key, command: h.command, sourcePath: file, currentHash, trustStatus: t ? (t[1] === currentHash ? 'trusted' : 'modified') : 'untrusted' });
      }));
      result = { data: [{ cwd: m.params.cwds[0], hooks, warnings: [], errors: [] }] };
    }
    process.stdout.write(JSON.stringify({ id: m.id, result }) + '\\n');
  }
});
`;

function world(o: { codex?: boolean } = {}) {
  const root = mkdtempSync(join(tmpdir(), 'ccdm-setup-agents-'));
  const bin = join(root, 'bin');
  mkdirSync(bin);
  if (o.codex !== false) {
    writeFileSync(join(bin, 'codex'), FAKE_CODEX);
    chmodSync(join(bin, 'codex'), 0o755);
  }
  const home = join(root, 'home');
  const env = { PATH: `${bin}:/usr/bin:/bin`, HOME: home, CC_DM_HOME: join(root, 'ccdm'), CODEX_HOME: join(home, '.codex') };
  mkdirSync(home);
  const run = (...args: string[]) => {
    const r = spawnSync(process.execPath, [BIN, 'setup', ...args, '--json'], { env, encoding: 'utf8', timeout: 60_000 });
    return { code: r.status, out: r.stdout ? JSON.parse(r.stdout) : undefined, err: r.stderr };
  };
  const doctor = () => {
    const r = spawnSync(process.execPath, [BIN, 'doctor', '--json'], { env, encoding: 'utf8', timeout: 60_000 });
    const out = JSON.parse(r.stdout);
    return (out.checks ?? out) as { check: string; status: string; detail: string }[];
  };
  return { root, env, home, run, doctor, done: () => rmSync(root, { recursive: true, force: true }) };
}

test('TOML text: table headers are read whatever their quoting; only our tables are removed', () => {
  assert.deepEqual(headerPath('[mcp_servers.cc-dm]'), ['mcp_servers', 'cc-dm']);
  assert.deepEqual(headerPath('[hooks.state."/h/.codex/hooks.json:stop:0:0"]  # x'), ['hooks', 'state', '/h/.codex/hooks.json:stop:0:0']);
  assert.deepEqual(headerPath(`[ a . 'b.c' ]`), ['a', 'b.c']);
  assert.equal(headerPath('x = "[not a header]"'), undefined);
  const text = '# mine\nmodel = "o"\n\n[mcp_servers.other]\ncommand = "x"\n\n# cc-dm (setup)\n[mcp_servers.cc-dm]\ncommand = "node"\n[mcp_servers.cc-dm.env]\nA = "1"\n\n[profiles.p]\nmodel = "m"\n';
  assert.equal(
    removeTables(text, [['mcp_servers', 'cc-dm']]).text,
    '# mine\nmodel = "o"\n\n[mcp_servers.other]\ncommand = "x"\n[profiles.p]\nmodel = "m"\n',
  );
});

test("setup codex: the MCP entry, the hooks after the user's, trust read back; idempotent; the user's settings kept; undo removes exactly that", () => {
  const w = world();
  try {
    const codexHome = w.env.CODEX_HOME;
    mkdirSync(codexHome, { recursive: true });
    const userToml = '# my settings\nmodel = "gpt-x"\napproval_policy = "on-request"\n\n[mcp_servers.docs]\ncommand = "docs-mcp"\n';
    writeFileSync(join(codexHome, 'config.toml'), userToml);
    const userHooks = { hooks: { Stop: [{ hooks: [{ type: 'command', command: 'notify-send done' }] }] } };
    writeFileSync(join(codexHome, 'hooks.json'), JSON.stringify(userHooks));

    const first = w.run('codex');
    assert.equal(first.code, 0, first.err);
    const r = first.out.results[0];
    assert.equal(r.host, 'codex');
    assert.ok(r.changed.some((c: string) => /read back as trusted/.test(c)), JSON.stringify(r));
    const tomlText = readFileSync(join(codexHome, 'config.toml'), 'utf8');
    assert.ok(tomlText.startsWith(userToml), 'the user\'s file is kept as it was, comments and all; ours comes after');
    const cfg = parse(tomlText) as any;
    const entry = cfg.mcp_servers['cc-dm'];
    assert.equal(entry.command, process.execPath);
    assert.deepEqual(entry.args, [...SERVER_NODE_FLAGS, BIN, 'serve'], 'launched with the plugin\'s node flags');
    assert.equal(entry.required, true);
    assert.equal(entry.default_tools_approval_mode, 'approve');
    assert.deepEqual({ ...entry.env }, { CC_DM_HOME: w.env.CC_DM_HOME });
    assert.deepEqual(entry.env_vars, ['CC_DM_SESSION_NAME', 'CC_DM_SESSION_ROLE', 'CC_DM_SESSION_PROJECT']);
    assert.equal(cfg.mcp_servers.docs.command, 'docs-mcp');
    assert.equal(cfg.model, 'gpt-x');
    const hooks = JSON.parse(readFileSync(join(codexHome, 'hooks.json'), 'utf8')).hooks;
    assert.equal(hooks.Stop[0].hooks[0].command, 'notify-send done', "the user's hook stays first (its trust key is positional)");
    assert.match(hooks.Stop[1].hooks[0].command, /^CC_DM_HOME=\S+ \S+node\S* \S+cc-dm\.js hook codex$/);
    for (const e of ['SessionStart', 'UserPromptSubmit', 'PostToolUse', 'Stop', 'PermissionRequest', 'SessionEnd']) assert.ok(hooks[e], e);
    assert.equal(hooks.UserPromptSubmit[0].hooks[0].additionalContextLimit, 0, 'mail is never spilled to a file');
    assert.equal(Object.keys(cfg.hooks.state).length, 6, 'trust for our six hooks, not the user\'s');

    const dr = w.doctor().find((c) => c.check === 'codex');
    assert.equal(dr?.status, 'ok', JSON.stringify(dr));
    assert.match(dr!.detail, /6 trusted hooks/);

    const again = w.run('codex');
    assert.equal(again.code, 0, again.err);
    assert.equal(readFileSync(join(codexHome, 'config.toml'), 'utf8'), tomlText, 'a second run changes nothing');
    assert.deepEqual(again.out.results[0].changed.filter((c: string) => !/trust/.test(c)), []);

    // A cc-dm hook changed by hand: Codex no longer trusts it, and doctor says so.
    const edited = JSON.parse(readFileSync(join(codexHome, 'hooks.json'), 'utf8'));
    edited.hooks.Stop[1].hooks[0].timeout = 5;
    writeFileSync(join(codexHome, 'hooks.json'), JSON.stringify(edited));
    const warn = w.doctor().find((c) => c.check === 'codex');
    assert.equal(warn?.status, 'warn');
    assert.match(warn!.detail, /does not trust 1 of cc-dm's hooks \(modified\)/);

    const undo = w.run('--undo', 'codex');
    assert.equal(undo.code, 0, undo.err);
    assert.equal(readFileSync(join(codexHome, 'config.toml'), 'utf8'), userToml, 'config.toml back as it was');
    assert.equal(w.doctor().find((c) => c.check === 'codex'), undefined, 'nothing said about a CLI cc-dm is not registered with');
    assert.deepEqual(JSON.parse(readFileSync(join(codexHome, 'hooks.json'), 'utf8')), userHooks, 'hooks.json back as it was');
  } finally {
    w.done();
  }
});

test('setup codex: refuses a cc-dm entry it did not write unless --force; without codex on PATH it says the hooks are untrusted; files it created go on undo', () => {
  const w = world({ codex: false });
  try {
    const codexHome = w.env.CODEX_HOME;
    mkdirSync(codexHome, { recursive: true });
    writeFileSync(join(codexHome, 'config.toml'), '[mcp_servers.cc-dm]\ncommand = "elsewhere"\n');
    const refused = w.run('codex');
    assert.notEqual(refused.code, 0);
    assert.match(refused.err + JSON.stringify(refused.out ?? {}), /did not add.*--force/s);
    rmSync(join(codexHome, 'config.toml'));
    const r = w.run('codex');
    assert.equal(r.code, 0, r.err);
    assert.ok(r.out.results[0].notes.some((n: string) => /codex was not found on PATH.*untrusted/.test(n)));
    assert.ok(existsSync(join(codexHome, 'hooks.json')));
    const undo = w.run('--undo');
    assert.equal(undo.code, 0, undo.err);
    assert.ok(!existsSync(join(codexHome, 'config.toml')) && !existsSync(join(codexHome, 'hooks.json')), 'files setup created are removed');
  } finally {
    w.done();
  }
});

test("setup gemini: the server with trust, the hooks, the two wake settings where unset; a value of the user's kept and explained; comments need --force; undo", () => {
  const w = world({ codex: false });
  try {
    const file = join(w.home, '.gemini', 'settings.json');
    mkdirSync(join(w.home, '.gemini'), { recursive: true });
    const user = { ui: { theme: 'dark' }, tools: { shell: { backgroundCompletionBehavior: 'silent' } }, hooks: { AfterAgent: [{ hooks: [{ type: 'command', name: 'mine', command: 'say done' }] }] } };
    writeFileSync(file, JSON.stringify(user));
    const first = w.run('gemini');
    assert.equal(first.code, 0, first.err);
    const s = JSON.parse(readFileSync(file, 'utf8'));
    assert.deepEqual(s.mcpServers['cc-dm'], { command: process.execPath, args: [...SERVER_NODE_FLAGS, BIN, 'serve'], env: { CC_DM_HOME: w.env.CC_DM_HOME }, trust: true, timeout: 30000 });
    assert.equal(s.hooks.AfterAgent[0].hooks[0].name, 'mine');
    assert.match(s.hooks.AfterAgent[1].hooks[0].command, /hook gemini$/);
    assert.equal(s.experimental.modelSteering, true);
    assert.equal(s.tools.shell.backgroundCompletionBehavior, 'silent', "the user's value is kept");
    assert.ok(first.out.results[0].notes.some((n: string) => /backgroundCompletionBehavior is "silent".*cannot be woken/.test(n)));
    assert.deepEqual(first.out.results[0].launch, ['CC_DM_SESSION_NAME=alice gemini']);
    const gd = w.doctor().find((c) => c.check === 'gemini');
    assert.equal(gd?.status, 'warn', 'the user\'s "silent" keeps an idle session from being woken');
    assert.match(gd!.detail, /backgroundCompletionBehavior is not "inject"/);
    const text = readFileSync(file, 'utf8');
    assert.equal(w.run('gemini').code, 0);
    assert.equal(readFileSync(file, 'utf8'), text, 'idempotent');
    const undo = w.run('--undo', 'gemini');
    assert.equal(undo.code, 0, undo.err);
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), user, 'back as it was');

    writeFileSync(file, '// my comment\n{"ui": {"theme": "dark"}}');
    const refused = w.run('gemini');
    assert.notEqual(refused.code, 0);
    assert.match(refused.err + JSON.stringify(refused.out ?? {}), /has comments.*--force/s);
    const forced = w.run('gemini', '--force');
    assert.equal(forced.code, 0, forced.err);
    assert.match(readFileSync(`${file}.cc-dm-backup`, 'utf8'), /my comment/);
  } finally {
    w.done();
  }
});
