// A throwaway PostgreSQL server for the tests: its own data folder under the temp dir, its own
// port on 127.0.0.1, stopped and deleted afterwards. Uses Debian's binaries
// (/usr/lib/postgresql/<v>/bin); any cluster the package started on 5432 is left alone.
//
// PostgreSQL refuses to run as root, so as root initdb and pg_ctl run as the `postgres` user
// (created as a system user if the package did not), with the folder owned by it.
//
// The server asks for a password over TCP (scram-sha-256); the tests use it to prove that
// credentials never reach logs, errors or stderr.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findPgBin } from './system.mjs';

const RUN_AS = 'postgres';

/**
 * Servers still running when this process exits (a crash, an uncaught exception, process.exit)
 * are stopped and deleted then, so no test run leaves a postmaster behind. pg_ctl runs
 * synchronously, as an 'exit' handler must.
 */
const live = new Set();
process.on('exit', () => {
  for (const h of live) {
    try { h.stopNow(); } catch { /* best effort while exiting */ }
  }
});

function isRoot() {
  return process.getuid?.() === 0;
}

/** uid and gid of the user the server runs as (created when missing), or null when not root. */
function serverUser() {
  if (!isRoot()) return null;
  let r = spawnSync('id', ['-u', RUN_AS], { encoding: 'utf8' });
  if (r.status !== 0) {
    const add = spawnSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', RUN_AS], { encoding: 'utf8' });
    if (add.status !== 0) throw new Error(`cannot create the system user "${RUN_AS}" to run PostgreSQL (it refuses root): ${add.stderr.trim()}`);
    r = spawnSync('id', ['-u', RUN_AS], { encoding: 'utf8' });
  }
  const gid = spawnSync('id', ['-g', RUN_AS], { encoding: 'utf8' });
  return { uid: Number(r.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/** Runs a PostgreSQL binary, as the server user when we are root. */
function pgRun(bin, args, { user } = {}) {
  const argv = user ? ['runuser', ['-u', RUN_AS, '--', bin, ...args]] : [bin, args];
  const r = spawnSync(argv[0], argv[1], { encoding: 'utf8', cwd: baseDir() });
  return { status: r.status ?? 1, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

/** Where the data folder goes: as root, a folder the postgres user can reach (not root's $TMPDIR). */
function baseDir() {
  return isRoot() && existsSync('/tmp') ? '/tmp' : tmpdir();
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function need(name) {
  const p = findPgBin(name);
  if (!p) throw new Error(`PostgreSQL's ${name} was not found under /usr/lib/postgresql/*/bin: install the postgresql package (apt-get install postgresql).`);
  return p;
}

/**
 * Starts a fresh server. Returns its URL (with the password: never print it) and controls:
 * stop() removes everything; down() stops the server keeping its data; up() starts it again on
 * the same port; restart() is down() then up().
 */
export async function startPostgres({ fsync = false } = {}) {
  const initdb = need('initdb');
  const pgCtl = need('pg_ctl');
  const user = serverUser();
  const dir = mkdtempSync(join(baseDir(), 'ccdm-pg-'));
  const data = join(dir, 'data');
  const log = join(dir, 'server.log');
  const password = randomBytes(18).toString('base64url');
  const dbUser = 'ccdm';
  writeFileSync(join(dir, 'pw'), `${password}\n`, { mode: 0o600 });
  if (user) {
    chownSync(dir, user.uid, user.gid);
    chownSync(join(dir, 'pw'), user.uid, user.gid);
  }
  chmodSync(dir, 0o700);

  const init = pgRun(initdb, ['-D', data, '-U', dbUser, `--pwfile=${join(dir, 'pw')}`, '--auth-local=trust', '--auth-host=scram-sha-256',
    '-E', 'UTF8', '--locale=C', '--no-sync'], { user });
  rmSync(join(dir, 'pw'), { force: true });
  if (init.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed:\n${init.out.replaceAll(password, '***')}`);
  }

  let port = 0;
  let running = false;
  const start = () => {
    const opts = [`-p ${port}`, `-k ${dir}`, `-c listen_addresses=127.0.0.1`, `-c fsync=${fsync ? 'on' : 'off'}`,
      '-c synchronous_commit=off', '-c full_page_writes=off', '-c max_connections=400', '-c shared_buffers=64MB'].join(' ');
    return pgRun(pgCtl, ['-D', data, '-l', log, '-o', opts, '-w', '-t', '60', 'start'], { user });
  };
  const startServer = async () => {
    // A port found free may be taken before the server binds it: try a few.
    for (let attempt = 0; ; attempt++) {
      if (!port || attempt > 0) port = await freePort();
      const r = start();
      if (r.status === 0) { running = true; return; }
      if (attempt >= 4) throw new Error(`pg_ctl start failed:\n${r.out}\n(see ${log})`);
    }
  };
  await startServer();

  const url = `postgres://${dbUser}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
  const handle = {
    url,
    /** The same URL with the password replaced, safe to print. */
    safeUrl: url.replace(`:${encodeURIComponent(password)}@`, ':***@'),
    password,
    port: () => port,
    dir,
    log,
    async down(mode = 'fast') {
      if (!running) return;
      const r = pgRun(pgCtl, ['-D', data, '-m', mode, '-w', 'stop'], { user });
      if (r.status !== 0) throw new Error(`pg_ctl stop failed:\n${r.out}`);
      running = false;
    },
    /** Starts it again on the same port (the clients' URL stays valid). */
    async up() {
      if (running) return;
      const r = start();
      if (r.status !== 0) throw new Error(`pg_ctl start failed:\n${r.out}\n(see ${log})`);
      running = true;
    },
    async restart(mode = 'fast') {
      await handle.down(mode);
      await handle.up();
    },
    stopNow() {
      live.delete(handle);
      try {
        if (running) pgRun(pgCtl, ['-D', data, '-m', 'immediate', '-w', 'stop'], { user });
        running = false;
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    async stop() {
      handle.stopNow();
    },
  };
  live.add(handle);
  return handle;
}

/** Stops and starts a server from startPostgres again (PostgreSQL restarted mid-run). */
export async function restartPostgres(handle, mode = 'fast') {
  await handle.restart(mode);
}

// `node scripts/pg.mjs` starts one and keeps it until Ctrl-C, for running the suites by hand.
if (import.meta.url === `file://${process.argv[1]}`) {
  const pg = await startPostgres();
  process.stdout.write(`${pg.url}\n`);
  process.stderr.write(`PostgreSQL on 127.0.0.1:${pg.port()} (data in ${pg.dir}); Ctrl-C stops it and deletes the data.\n`);
  const bye = async () => { await pg.stop(); process.exit(0); };
  process.on('SIGINT', bye);
  process.on('SIGTERM', bye);
  setInterval(() => {}, 1 << 30);
}
