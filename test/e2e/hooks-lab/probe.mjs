#!/usr/bin/env node
// Probe hook for the spike: logs when it ran, what it got (stdin JSON, a few env vars, its
// parent chain) as one JSON line to $SPIKE_LOG, then does what its arguments say.
//   probe.mjs LABEL [--sleep MS] [--out TEXT|@file] [--err TEXT|@file] [--json JSON] [--exit N]
//               [--wait-file PATH]  (block until PATH exists, then consume it as the output)
import fs from 'node:fs';

const t0 = performance.timeOrigin; // process start, wall clock ms
const args = process.argv.slice(2);
const label = args.shift() ?? 'probe';
const opt = {};
for (let i = 0; i < args.length; i += 2) opt[args[i].replace(/^--/, '')] = args[i + 1];

function chain(pid, depth = 6) {
  const out = [];
  for (let p = pid; p > 1 && out.length < depth; ) {
    let stat;
    try {
      stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
    } catch {
      break;
    }
    const rp = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, rp);
    const ppid = Number(stat.slice(rp + 2).split(' ')[1]);
    out.push({ pid: p, comm });
    p = ppid;
  }
  return out;
}

let input = '';
try {
  input = fs.readFileSync(0, 'utf8');
} catch {
  /* no stdin */
}
let parsed;
try {
  parsed = JSON.parse(input);
} catch {
  parsed = input;
}
const envKeys = Object.keys(process.env).filter((k) => /^(CLAUDE|CC_DM|SPIKE)/.test(k));
const env = Object.fromEntries(envKeys.map((k) => [k, k.includes('TOKEN') ? '(set)' : process.env[k]]));
const logFile = process.env.SPIKE_LOG;
const write = (rec) => {
  if (logFile) fs.appendFileSync(logFile, JSON.stringify(rec) + '\n');
};
write({ label, phase: 'start', t: t0, now: Date.now(), pid: process.pid, ppid: process.ppid, chain: chain(process.ppid), env, input: parsed });

const text = (v) => (v === undefined ? undefined : v.startsWith('@') ? fs.readFileSync(v.slice(1), 'utf8') : v);
if (opt['wait-file']) {
  const f = opt['wait-file'];
  while (!fs.existsSync(f)) await new Promise((r) => setTimeout(r, 20));
  opt.out = '@' + f;
}
if (opt.sleep) await new Promise((r) => setTimeout(r, Number(opt.sleep)));
const out = text(opt.out);
const err = text(opt.err);
if (opt.json) process.stdout.write(opt.json + '\n');
if (out !== undefined) process.stdout.write(out);
if (err !== undefined) process.stderr.write(err);
const code = Number(opt.exit ?? 0);
write({ label, phase: 'exit', now: Date.now(), code, outLen: out?.length, errLen: err?.length });
process.exit(code);
