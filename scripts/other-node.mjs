#!/usr/bin/env node
// Runs the unit and SQLite integration suites on another Node (24 by default), to prove the
// supported versions (package.json "engines") beyond the one the project is developed on.
//
//   node scripts/other-node.mjs [--node 24.22.3] [files...]
//
// The Node binary comes from the npm registry (the node-<platform>-<arch> package, which also
// carries the headers native addons build against), unpacked into a cache folder; nothing is
// downloaded from anywhere else. Its own install tree (npm ci --omit=dev from the lockfile, then
// better-sqlite3 built for that Node) lives beside it, so the project's node_modules for the main
// Node stays as it is. The compiled tests (dist/) and bin/ are copied into that tree and run there.
// Cache: $CC_DM_NODE_CACHE, default <tmp>/cc-dm-node-cache-<uid>; a tree is reused while the production
// dependencies in the lockfile are the same.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const DEFAULT_NODE = '24.22.3';
const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const at = args.indexOf('--node');
const version = at >= 0 ? args.splice(at, 2)[1] : DEFAULT_NODE;
// Under the temp folder, not ~/.cache: the wake tests run this Node as another user (nobody)
// when they run as root, and root's home is closed to it. A folder someone else made is not used.
const cache = process.env.CC_DM_NODE_CACHE || join(tmpdir(), `cc-dm-node-cache-${process.getuid?.() ?? 'user'}`);
mkdirSync(cache, { recursive: true, mode: 0o755 });
const owner = statSync(cache);
if ((process.getuid && owner.uid !== process.getuid()) || (owner.mode & 0o022) !== 0) {
  console.error(`other-node: ${cache} is not this user's own (or others may write to it): remove it, or set CC_DM_NODE_CACHE`);
  process.exit(1);
}
const pkgName = `node-${process.platform}-${process.arch}`;

function run(cmd, argv, opts = {}) {
  const t0 = Date.now();
  const r = spawnSync(cmd, argv, { stdio: 'inherit', ...opts });
  if (r.status !== 0) {
    console.error(`other-node: ${cmd} ${argv.join(' ')} failed (${r.status ?? r.signal ?? r.error})`);
    process.exit(1);
  }
  return Date.now() - t0;
}

const timings = {};

// 1. The Node binary, from the registry.
const nodeDir = join(cache, `${pkgName}-${version}`);
const node = join(nodeDir, 'bin', 'node');
if (!existsSync(node)) {
  mkdirSync(cache, { recursive: true });
  const tmp = mkdtempSync(join(tmpdir(), 'ccdm-node-'));
  console.log(`# other-node: fetching ${pkgName}@${version} from the npm registry`);
  timings.fetch = run('npm', ['pack', `${pkgName}@${version}`, '--silent', '--pack-destination', tmp], { cwd: tmp });
  const tgz = readdirSync(tmp).find((f) => f.endsWith('.tgz'));
  mkdirSync(join(tmp, 'x'));
  run('tar', ['xzf', join(tmp, tgz), '-C', join(tmp, 'x'), '--strip-components=1']);
  rmSync(nodeDir, { recursive: true, force: true });
  renameSync(join(tmp, 'x'), nodeDir);
  rmSync(tmp, { recursive: true, force: true });
}
const actual = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
if (actual !== `v${version}`) {
  console.error(`other-node: ${node} says ${actual}, expected v${version}`);
  process.exit(1);
}

// 2. Its own install tree: production dependencies from the lockfile, better-sqlite3 built for it.
// Keyed by the production dependencies only: a new dev dependency (say Claude Code) keeps the tree.
const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
const prod = Object.entries(lock.packages ?? {}).filter(([, p]) => !p.dev).map(([k, p]) => [k, p.version, p.integrity]);
const deps = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).dependencies;
const key = createHash('sha256').update(JSON.stringify([prod, deps])).digest('hex').slice(0, 12);
const tree = join(cache, `tree-${version}-${key}`);
const env = {
  ...process.env,
  PATH: `${join(nodeDir, 'bin')}:${process.env.PATH}`,
  // node-gyp builds against this Node's own headers (shipped in the package), never downloads them.
  npm_config_nodedir: nodeDir,
  npm_config_audit: 'false',
  npm_config_fund: 'false',
  npm_config_update_notifier: 'false',
};
if (!existsSync(join(tree, '.complete'))) {
  rmSync(tree, { recursive: true, force: true });
  mkdirSync(tree, { recursive: true });
  for (const f of ['package.json', 'package-lock.json']) cpSync(join(root, f), join(tree, f));
  console.log(`# other-node: installing dependencies for Node ${version} in ${tree}`);
  timings.install = run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--prefer-offline'], { cwd: tree, env });
  console.log(`# other-node: building better-sqlite3 for Node ${version}`);
  timings.build = run('npm', ['rebuild', 'better-sqlite3'], { cwd: tree, env });
  writeFileSync(join(tree, '.complete'), new Date().toISOString());
}

// 3. The compiled tests, the entry point and the plugin's files, copied into the tree (so they
// resolve its modules).
if (!existsSync(join(root, 'dist', 'test'))) {
  console.error('other-node: no dist/test: build first (npx tsc -p tsconfig.json)');
  process.exit(1);
}
for (const d of ['dist', 'bin', '.claude-plugin', 'hooks', 'skills', 'npm-marketplace', 'package.json']) {
  rmSync(join(tree, d), { recursive: true, force: true });
  if (existsSync(join(root, d))) cpSync(join(root, d), join(tree, d), { recursive: true });
}
// The pinned Claude Code (a dev dependency, not in this tree) for the doctor's test, from the project.
const claude = join(root, 'node_modules', '.bin', 'claude');
if (existsSync(claude)) {
  mkdirSync(join(tree, 'node_modules', '.bin'), { recursive: true });
  rmSync(join(tree, 'node_modules', '.bin', 'claude'), { force: true });
  symlinkSync(realpathSync(claude), join(tree, 'node_modules', '.bin', 'claude'));
}

function testFiles(dir) {
  const out = [];
  if (!existsSync(dir)) return out;
  for (const f of readdirSync(dir).sort()) {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) out.push(...testFiles(p));
    // SQLite only: files that start a PostgreSQL server of their own stay with the main suites.
    else if (f.endsWith('.test.js') && !f.startsWith('postgres-') && !readFileSync(p, 'utf8').includes('sharedOrOwnServer')) out.push(p);
  }
  return out;
}
const files = args.length
  ? args.map((f) => join(tree, f))
  : [...testFiles(join(tree, 'dist', 'test', 'unit')), ...testFiles(join(tree, 'dist', 'test', 'integration'))];
console.log(`# other-node: unit and SQLite integration suites on Node ${actual} (${files.length} files)`);
const t0 = Date.now();
const r = spawnSync(node, ['--test', '--test-concurrency=2', '--test-timeout=600000', ...files], {
  cwd: tree,
  stdio: 'inherit',
  env: { ...env, CC_DM_TEST_STORES: 'sqlite', CC_DM_TEST_PG_URL: '' },
});
timings.tests = Date.now() - t0;
console.log(
  `# other-node: Node ${actual}: ${Object.entries(timings)
    .map(([k, ms]) => `${k} ${(ms / 1000).toFixed(1)} s`)
    .join(', ')}`,
);
process.exit(r.status ?? 1);
