#!/usr/bin/env node
// Entry point. It checks the build and dependencies first, so that a plugin copied without them
// fails at once with what to run, instead of hanging past Claude Code's start timeout.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const main = join(root, 'dist', 'src', 'cli', 'main.js');
const missing = [];
if (!existsSync(main)) missing.push('the build (dist/)');
for (const dep of ['@modelcontextprotocol/sdk', 'better-sqlite3', 'zod', 'commander']) {
  if (!existsSync(join(root, 'node_modules', dep))) missing.push(dep);
}
if (missing.length) {
  process.stderr.write(`cc-dm: missing ${missing.join(', ')} in ${root}.\nRun: cd ${JSON.stringify(root)} && npm install\n`);
  process.exit(1);
}
try {
  const { run } = await import(main);
  await run(process.argv);
} catch (e) {
  if (e && (e.code === 'ERR_DLOPEN_FAILED' || /better_sqlite3\.node|NODE_MODULE_VERSION/.test(String(e.message)))) {
    process.stderr.write(`cc-dm: the SQLite driver does not load with this Node ${process.version} (${e.message}).\nRun: cd ${JSON.stringify(root)} && npm rebuild better-sqlite3\n`);
    process.exit(1);
  }
  throw e;
}
