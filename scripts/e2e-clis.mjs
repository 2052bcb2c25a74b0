#!/usr/bin/env node
// Installs (when missing) the pinned Codex CLI and Gemini CLI used by the end-to-end tests into
// <repo>/.cache/e2e-clis/ and prints their paths as JSON. The same code runs when an e2e test
// needs a CLI; this entry lets a person (or CI) fill the cache ahead of time.
//
//   node scripts/e2e-clis.mjs            # both
//   node scripts/e2e-clis.mjs codex      # one
//
// It loads the compiled module (dist/test/e2e/agent-clis.js), building it first when missing.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const mod = join(root, 'dist', 'test', 'e2e', 'agent-clis.js');
if (!existsSync(mod)) {
  const r = spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
const { AGENT_CLIS, ensureAgentCli } = await import(mod);
const want = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const ids = want.length ? want : Object.keys(AGENT_CLIS);
const out = {};
for (const id of ids) {
  const spec = AGENT_CLIS[id];
  if (!spec) {
    process.stderr.write(`unknown CLI "${id}" (known: ${Object.keys(AGENT_CLIS).join(', ')})\n`);
    process.exit(2);
  }
  try {
    const r = await ensureAgentCli(spec, { log: (m) => process.stderr.write(`[e2e-clis] ${m}\n`) });
    out[id] = { pkg: spec.pkg, version: spec.version, dir: r.dir, bin: r.bin, native: r.native, installed: r.installed };
  } catch (err) {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
}
process.stdout.write(JSON.stringify(out, null, 2) + '\n');
