/** The CLI's contract with scripts (issue 6): --help everywhere, exit codes, no colour off a terminal. */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stores } from '../support/stores.js';
import { spawnSync } from 'node:child_process';
import { World } from '../support/world.js';
import { BIN, cleanEnv } from '../../src/channel/peer.js';
import { buildProgram } from '../../src/cli/main.js';

const ESC = /\x1b\[/;

describe('cli usage and exit codes', () => {
  let w: World;
  before(async () => { w = await World.create(stores()[0]!); });
  after(async () => { await w.close(); });

  test('--help works for the program and every command, and exits 0', () => {
    const names = buildProgram().commands.map((c) => c.name());
    for (const n of ['who', 'send', 'tail', 'log', 'search', 'trace', 'approvals', 'approve', 'deny', 'reserve', 'doctor', 'prune', 'console', 'demo']) {
      assert.ok(names.includes(n), `command ${n} exists`);
    }
    const top = w.cli(['--help']);
    assert.equal(top.code, 0);
    for (const n of names) assert.match(top.stdout, new RegExp(`\\b${n}\\b`), `${n} is listed in the help`);
    for (const n of names) {
      const r = w.cli([n, '--help']);
      assert.equal(r.code, 0, `${n} --help: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`^Usage: cc-dm ${n}`), `${n} --help prints its usage`);
      assert.doesNotMatch(r.stdout, ESC, 'no colour when stdout is not a terminal');
    }
    assert.equal(w.cli(['help', 'send']).code, 0);
    const v = w.cli(['--version']);
    assert.equal(v.code, 0);
    assert.match(v.stdout, /^\d+\.\d+\.\d+/);
  });

  test('bad usage exits 2 with a message on stderr and nothing on stdout', () => {
    const cases: string[][] = [
      [], ['frobnicate'], ['who', '--bogus'], ['trace'], ['send'], ['send', 'bob'], ['send', '--project', 'p', 'bob', 'hi'],
      ['send', '--priority', 'huge', 'bob', 'hi'], ['send', '--ttl', '5', 'bob', 'hi'], ['log', '--limit', '0'],
      ['log', '--since', 'yesterday-ish'], ['tail', '-n', 'many'], ['console', '--port', '70000'],
    ];
    for (const args of cases) {
      const r = w.cli(args);
      assert.equal(r.code, 2, `cc-dm ${args.join(' ')} exits 2 (got ${r.code}: ${r.stderr})`);
      assert.ok(r.stderr.trim().length > 0, `cc-dm ${args.join(' ')} says why`);
      assert.doesNotMatch(r.stderr, ESC, 'no colour when stderr is not a terminal');
    }
    const cfg = w.cli(['who'], { CC_DM_PUSH: 'sometimes' });
    assert.equal(cfg.code, 2, 'invalid configuration');
    assert.match(cfg.stderr, /CC_DM_PUSH/);
    const both = w.cli(['who'], { CC_DM_DM_ALLOWLIST: 'a', CC_DM_DM_BLOCKLIST: 'b' });
    assert.equal(both.code, 2);
  });

  test('console on a port in use exits 2 and names the port', async () => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    const port = (busy.address() as AddressInfo).port;
    try {
      const r = w.cli(['console', '--no-open', '--port', String(port)]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`port ${port} is in use`));
    } finally {
      busy.close();
    }
  });

  test('colour on a terminal (and not with NO_COLOR)', () => {
    // script(1) (util-linux, on every Debian) runs the command on a pseudo-terminal.
    const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} trace m_none`;
    const tty = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', env: { ...cleanEnv(), ...w.env } });
    assert.match(tty.stdout, ESC, 'an error on a terminal is red');
    const plain = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', env: { ...cleanEnv(), ...w.env, NO_COLOR: '1' } });
    assert.match(plain.stdout, /no message with id/);
    assert.doesNotMatch(plain.stdout, ESC);
  });

  test('not found exits 4', async () => {
    assert.equal(w.cli(['trace', 'm_nope']).code, 4);
    assert.equal(w.cli(['approve', 'zzzzz']).code, 4);
    assert.equal(w.cli(['deny', 'zzzzz']).code, 4);
    await w.start('someone');
    const r = w.cli(['send', 'someon', 'hello']);
    assert.equal(r.code, 4);
    assert.match(r.stderr, /Did you mean "someone"\?/);
    assert.match(r.stderr, /cc-dm send again with --queue/, 'the hint speaks CLI');
    const q = w.cli(['send', '--queue', 'later-one', 'for when you start', '--json']);
    assert.equal(q.code, 0, q.stderr);
    assert.equal(q.json.recipient_online, false);
  });

  test('a store that cannot be opened exits 5', () => {
    const home = mkdtempSync(join(tmpdir(), 'ccdm-bad-'));
    mkdirSync(join(home, 'bus.db')); // a folder where the database file should be
    const r = w.cli(['who'], { CC_DM_HOME: home });
    rmSync(home, { recursive: true, force: true });
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stderr, /cc-dm:/);
  });
});
