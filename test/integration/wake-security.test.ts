/**
 * The wake path adds no new failure mode: a server listens on no TCP or UDP port (whatever the
 * store), and the SQLite store's doorbells are Unix sockets in a folder only this user can enter
 * (0700, socket 0600), so nobody else can ring, let alone connect.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { stores } from '../support/stores.js';
import { World } from '../support/world.js';
import { doorbellDir } from '../../src/wake/unix-socket.js';
import { requireSecondUid } from '../support/second-uid.js';

/** Inodes of the sockets a process holds open (from /proc/<pid>/fd). */
function socketInodes(pid: number): Set<string> {
  const out = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) out.add(m[1]!);
    } catch { /* closed meanwhile */ }
  }
  return out;
}

/** Listening TCP sockets and bound UDP sockets of the machine: inode -> local address. */
function inetListeners(): Map<string, string> {
  const out = new Map<string, string>();
  for (const [file, listenOnly] of [['tcp', true], ['tcp6', true], ['udp', false], ['udp6', false]] as const) {
    let text = '';
    try { text = readFileSync(`/proc/net/${file}`, 'utf8'); } catch { continue; }
    for (const line of text.trim().split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (listenOnly && f[3] !== '0A') continue; // 0A = LISTEN
      out.set(f[9]!, `${file} ${f[1]}`);
    }
  }
  return out;
}

/** Listening Unix sockets: inode -> path (flag 00010000 = accepting connections). */
function unixListeners(): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of readFileSync('/proc/net/unix', 'utf8').trim().split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[3] === '00010000') out.set(f[6]!, f[7] ?? '');
  }
  return out;
}

for (const fx of stores()) {
  describe(`wake: no new failure mode [${fx.kind}]`, () => {
    let w: World;
    before(async () => { w = await World.create(fx); });
    after(async () => { await w.close(); });

    test('a server opens no TCP or UDP port, and listens only on its doorbell, if any', async () => {
      const a = await w.start('port-a');
      const b = await w.start('port-b');
      await a.call('dm', { to: 'port-b', content: 'ring once' });
      await b.waitFor((p) => p.pushes.length === 1, 5000, 'the dm');
      const inet = inetListeners();
      const unix = unixListeners();
      for (const p of [a, b]) {
        const mine = socketInodes(p.pid!);
        const ports = [...mine].filter((i) => inet.has(i)).map((i) => inet.get(i));
        assert.deepEqual(ports, [], `server ${p.pid} listens on ${ports.join(', ')}`);
        const listening = [...mine].filter((i) => unix.has(i)).map((i) => unix.get(i)!);
        for (const path of listening) {
          assert.ok(path.startsWith(doorbellDir(w.home) + '/'), `a Unix socket outside the doorbell folder: ${path}`);
        }
        assert.ok(listening.length <= 1, `one doorbell at most, got ${listening.join(', ')}`);
      }
    });
  });
}

const sqlite = stores().find((s) => s.kind === 'sqlite');
if (sqlite) {
  describe('wake: the doorbell folder is private [sqlite]', () => {
    let w: World;
    before(async () => { w = await World.create(sqlite); });
    after(async () => { await w.close(); });

    test('the folder and its parent are 0700 and ours, each socket 0600; the path fits in 108 bytes', async () => {
      await w.start('perm-a');
      const dir = doorbellDir(w.home);
      for (const d of [dir, join(dir, '..')]) {
        const st = lstatSync(d);
        assert.ok(st.isDirectory() && !st.isSymbolicLink(), d);
        assert.equal(st.mode & 0o777, 0o700, `${d} mode ${(st.mode & 0o777).toString(8)}`);
        assert.equal(st.uid, process.getuid!());
      }
      const socks = readdirSync(dir).filter((f) => f.endsWith('.sock'));
      assert.ok(socks.length >= 1);
      for (const f of socks) {
        const st = statSync(join(dir, f));
        assert.ok(st.isSocket(), f);
        assert.equal(st.mode & 0o777, 0o600, `${f} mode ${(st.mode & 0o777).toString(8)}`);
        assert.ok(Buffer.byteLength(join(dir, f)) < 108, 'a Unix socket path must fit sun_path');
      }
    });

    test('a long $CC_DM_HOME still gives a short socket path', async () => {
      const long = join(w.home, 'x'.repeat(150), 'y'.repeat(150));
      assert.ok(Buffer.byteLength(join(doorbellDir(long), `${'0'.repeat(16)}.sock`)) < 108);
    });

    test('a doorbell folder left open to others is made private again at start', async () => {
      const fresh = await World.create(sqlite);
      try {
        const dir = doorbellDir(fresh.home);
        mkdirSync(dir, { recursive: true });
        chmodSync(dir, 0o777);
        await fresh.start('reperm');
        assert.equal(statSync(dir).mode & 0o777, 0o700);
      } finally {
        await fresh.close();
      }
    });

    test('another user cannot ring (run as root: the check drops to nobody)', async () => {
      // Never a skip: without a second user this fails, naming what is missing.
      requireSecondUid('"another user cannot ring"');
      await w.start('other-user');
      const dir = doorbellDir(w.home);
      const sock = join(dir, readdirSync(dir).find((f) => f.endsWith('.sock'))!);
      const probe = `require('net').connect(${JSON.stringify(sock)}).on('connect',()=>{console.log('CONNECTED');process.exit(0)}).on('error',(e)=>{console.log(e.code);process.exit(0)})`;
      const r = spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, '-e', probe], { encoding: 'utf8', timeout: 10_000 });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout.trim(), /^(EACCES|EPERM)$/, `another user got: ${r.stdout.trim()}`);
    });

    test('a doorbell folder that is a symlink is refused, never followed, and the session still starts (issue 13, item 14)', async () => {
      const fresh = await World.create(sqlite);
      try {
        const dir = doorbellDir(fresh.home);
        const elsewhere = join(fresh.home, 'elsewhere');
        mkdirSync(elsewhere, { recursive: true });
        mkdirSync(join(dir, '..'), { recursive: true, mode: 0o700 });
        if (existsSync(dir)) rmSync(dir, { recursive: true });
        spawnSync('ln', ['-s', elsewhere, dir]);
        const p = await fresh.start('symlinked');
        assert.equal((await p.call('who')).body.you, 'symlinked', 'a refused folder never stops a session');
        assert.match(p.stderrText, /doorbell folder refused: .* is a symbolic link/);
        assert.deepEqual(readdirSync(elsewhere), [], 'nothing was created through the link');
        assert.ok(readdirSync(join(fresh.home, 'doorbells')).some((f) => f.endsWith('.sock')), 'it rings in the home\'s own folder instead');
      } finally {
        await fresh.close();
      }
    });
  });
}
