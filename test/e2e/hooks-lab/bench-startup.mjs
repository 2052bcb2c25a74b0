#!/usr/bin/env node
// Q12: what one hook run costs. Spawns each command N times (stdin = a small hook input JSON) and
// reports wall time (median, range) and peak RSS, with the load average.
//   node test/e2e/hooks-lab/bench-startup.mjs [runs]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..', '..');
const runs = Number(process.argv[2] ?? 15);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'spike-bench-'));
const bell = path.join(tmp, 'bell');
fs.writeFileSync(bell, '');
const input = JSON.stringify({ session_id: 'x', transcript_path: '/nonexistent', cwd: tmp, hook_event_name: 'FileChanged', file_path: bell, event: 'change' });
const env = { ...process.env, CC_DM_SESSION_NAME: 'bench', CLAUDE_CODE_SESSION_ID: 'bench', CC_DM_HOME: path.join(tmp, 'ccdm'), CCDM_PROTO_HOME: path.join(tmp, 'proto'), SPIKE_LOG: '/dev/null', CLAUDE_PID: String(process.pid) };
const cmds = {
  'node -e 0 (bare node)': ['node', ['-e', '0']],
  'sh fc-hook.sh (probe, empty bell)': ['sh', [path.join(here, 'probe-sh', 'fc-hook.sh')]],
  'node hooks-lab/ccdm-hook.mjs file-changed (nothing waiting)': ['node', [path.join(here, 'plugin', 'scripts', 'ccdm-hook.mjs'), 'file-changed']],
  'node bin/cc-dm.js --version (whole CLI)': ['node', [path.join(root, 'bin', 'cc-dm.js'), '--version']],
  'sh presence.sh working': ['sh', [path.join(here, 'plugin', 'scripts', 'presence.sh'), 'working']],
  'node bin/cc-dm.js who --json (CLI + store open)': ['node', [path.join(root, 'bin', 'cc-dm.js'), 'who', '--json']],
};
const timeBin = fs.existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
const out = { loadavgStart: fs.readFileSync('/proc/loadavg', 'utf8').trim(), runs, results: {} };
for (const [name, [cmd, args]] of Object.entries(cmds)) {
  if (args.some((a) => a.endsWith('.mjs') && !fs.existsSync(a))) continue;
  const ms = [];
  const rss = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const r = timeBin
      ? spawnSync(timeBin, ['-f', '%M', cmd, ...args], { input, env, encoding: 'utf8' })
      : spawnSync(cmd, args, { input, env, encoding: 'utf8' });
    ms.push(performance.now() - t);
    if (timeBin) {
      const m = /(\d+)\s*$/.exec(r.stderr.trim());
      if (m) rss.push(Number(m[1]));
    }
  }
  ms.sort((a, b) => a - b);
  rss.sort((a, b) => a - b);
  out.results[name] = { medianMs: Math.round(ms[ms.length >> 1]), minMs: Math.round(ms[0]), maxMs: Math.round(ms[ms.length - 1]), peakRssKb: rss.length ? rss[rss.length >> 1] : undefined };
}
out.loadavgEnd = fs.readFileSync('/proc/loadavg', 'utf8').trim();
fs.rmSync(tmp, { recursive: true, force: true });
console.log(JSON.stringify(out, null, 1));
