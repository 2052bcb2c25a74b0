#!/usr/bin/env node
// The whole suite: build, then unit tests, the in-process tier (channel servers over in-memory
// transports) and the integration tests (spawned servers and the CLI) against SQLite and a
// throwaway PostgreSQL, the console's browser tests, the end-to-end tests with the real Claude
// Code, Codex CLI and Gemini CLI, and the unit and SQLite integration suites again on Node 24
// (`node24`: scripts/other-node.mjs).
// A missing system package is installed where possible (apt-get as root), or the run fails
// naming it: no suite is ever skipped silently.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ensurePackages } from './system.mjs';
import { startPostgres } from './pg.mjs';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const only = args.filter((a) => !a.startsWith('-'));
const suites = only.length ? only : ['unit', 'inproc', 'integration', 'console', 'e2e', 'node24'];

function files(dir) {
  const abs = join(root, 'dist', 'test', dir);
  if (!existsSync(abs)) return [];
  const out = [];
  for (const f of readdirSync(abs)) {
    const p = join(abs, f);
    if (statSync(p).isDirectory()) out.push(...files(join(dir, f)));
    else if (f.endsWith('.test.js')) out.push(p);
  }
  return out;
}

function run(cmd, argv, env = {}) {
  const r = spawnSync(cmd, argv, { stdio: 'inherit', cwd: root, env: { ...process.env, ...env } });
  return r.status ?? 1;
}

if (run('npx', ['tsc', '-p', 'tsconfig.json']) !== 0) process.exit(1);
// Lint and format checks come first: a boundary crossed or an import cycle fails the run.
console.log('\n# lint: types (src, strict index access), eslint, prettier');
if (run('npm', ['run', '--silent', 'lint']) !== 0) {
  console.error('lint failed: see above (npm run format fixes formatting)');
  process.exit(1);
}

const needs = new Set();
if (['unit', 'inproc', 'integration'].some((s) => suites.includes(s))) needs.add('postgresql');
if (suites.includes('console')) needs.add('chromium');
// tmux: the e2e sessions, and the integration suite's real terminal (issue 13, item 1).
if (suites.includes('e2e') || suites.includes('integration')) needs.add('tmux');
ensurePackages([...needs]);

let pg;
let failed = 0;
try {
  const env = {};
  if (needs.has('postgresql')) {
    pg = await startPostgres();
    env.CC_DM_TEST_PG_URL = pg.url;
  }
  // e2e two files at a time: 164 s instead of 337 s one at a time. Under that load Codex's
  // in-process TUI may start a turn before cc-dm's tools are listed (3 runs in 9): its test asks again.
  const concurrency = { unit: 2, inproc: 2, integration: 2, console: 1, e2e: 2 };
  for (const suite of suites) {
    if (suite === 'node24') {
      // Another Node from the npm registry, its own install tree: see scripts/other-node.mjs.
      console.log('\n# suite: node24 (unit and SQLite integration on Node 24)');
      const t0 = Date.now();
      if (run(process.execPath, [join(root, 'scripts', 'other-node.mjs')]) !== 0) failed++;
      console.log(`# node24 took ${((Date.now() - t0) / 1000).toFixed(0)} s`);
      continue;
    }
    const list = files(suite);
    if (list.length === 0) { console.error(`test suite "${suite}" has no test files in dist/test/${suite}`); failed++; continue; }
    console.log(`\n# suite: ${suite} (${list.length} file(s))`);
    const t0 = Date.now();
    const status = run(process.execPath, ['--test', `--test-concurrency=${concurrency[suite] ?? 1}`, '--test-timeout=600000', ...list], env);
    if (status !== 0) failed++;
    console.log(`# ${suite} took ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  }
} finally {
  await pg?.stop();
}
if (failed) {
  console.error(`\n${failed} suite(s) failed`);
  process.exit(1);
}
