#!/usr/bin/env node
// Entry point. It checks the build and dependencies first, so that a plugin copied without them
// fails at once with what to run, instead of hanging past Claude Code's start timeout.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const main = join(root, 'dist', 'src', 'cli', 'main.js');
const server = join(root, 'dist', 'src', 'channel', 'main.js');
const hook = join(root, 'dist', 'src', 'delivery', 'hook-main.js');
const waiter = join(root, 'dist', 'src', 'delivery', 'waiter.js');
// `cc-dm serve`, the command Claude Code spawns for every session, goes straight to the server,
// and `cc-dm hook <event>`, run at every hook event, straight to the hooks: the CLI (commander and
// the code of every other command) is never loaded for them.
const serveOnly = process.argv.length === 3 && process.argv[2] === 'serve';
// `cc-dm wait`, which a Gemini model runs in the background to be woken, likewise.
const waitOnly = process.argv.length === 3 && process.argv[2] === 'wait';
const hookEvent = process.argv.length === 4 && process.argv[2] === 'hook' && !process.argv[3].startsWith('-') ? process.argv[3] : undefined;
const missing = [];
if (!existsSync(main)) missing.push('the build (dist/)');
// Resolved the way Node will resolve them for dist/: from this package up through every parent
// node_modules, so a package whose dependencies npm or npx hoisted next to it is complete.
const require = createRequire(join(root, 'package.json'));
for (const [dep, entry] of [
  ['@modelcontextprotocol/sdk', '@modelcontextprotocol/sdk/server/index.js'],
  ['better-sqlite3', 'better-sqlite3'],
  ['zod', 'zod'],
  ['commander', 'commander'],
  ['smol-toml', 'smol-toml'],
]) {
  try {
    require.resolve(entry);
  } catch (e) {
    if (e?.code !== 'ERR_PACKAGE_PATH_NOT_EXPORTED') missing.push(dep);
  }
}
if (missing.length) {
  // Installed as a package (inside a node_modules folder): reinstall it; a clone (it has the
  // lockfile): npm install in it; a copy without either (a plugin Claude Code unpacked from npm):
  // its production dependencies, which builds better-sqlite3 too.
  const installed = root.split(sep).includes('node_modules');
  const clone = existsSync(join(root, 'package-lock.json'));
  const remedy = installed
    ? 'reinstall cc-dm: npm install -g cc-dm'
    : `cd ${JSON.stringify(root)} && npm install${clone ? '' : ' --omit=dev'}`;
  process.stderr.write(`cc-dm: missing ${missing.join(', ')} in ${root}.\nRun: ${remedy}\n`);
  process.exit(1);
}
try {
  if (serveOnly) {
    const { serve } = await import(server);
    await serve();
  } else if (waitOnly) {
    const { runWait } = await import(waiter);
    await runWait();
  } else if (hookEvent) {
    const { runHook } = await import(hook);
    await runHook(hookEvent);
  } else {
    const { run } = await import(main);
    await run(process.argv);
  }
} catch (e) {
  if (e && (e.code === 'ERR_DLOPEN_FAILED' || /better_sqlite3\.node|NODE_MODULE_VERSION/.test(String(e.message)))) {
    process.stderr.write(`cc-dm: the SQLite driver does not load with this Node ${process.version} (${e.message}).\nRun: cd ${JSON.stringify(root)} && npm rebuild better-sqlite3\n`);
    process.exit(1);
  }
  if (!serveOnly) throw e;
  process.stderr.write(`cc-dm: ${e?.message ?? e}\n`); // as the CLI reports it
  process.exitCode = 1;
}
