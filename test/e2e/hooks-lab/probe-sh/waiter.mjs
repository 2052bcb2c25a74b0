#!/usr/bin/env node
// Waiter probe: block until $SPIKE_WATCH is not empty, print it (and empty the file), exit 2.
// One waiter per session: a pid file beside the watched file; a second waiter exits 0 at once.
// --attended-only: exit 0 at once unless CLAUDE_CODE_SESSION_ATTENDED=1.
import fs from 'node:fs';
import path from 'node:path';
const t0 = performance.timeOrigin;
const file = process.env.SPIKE_WATCH;
const log = (o) => process.env.SPIKE_LOG && fs.appendFileSync(process.env.SPIKE_LOG, JSON.stringify({ label: 'waiter', pid: process.pid, ...o }) + '\n');
let input = '';
try { input = fs.readFileSync(0, 'utf8'); } catch {}
let ev;
try { ev = JSON.parse(input).hook_event_name; } catch {}
log({ phase: 'start', t: t0, now: Date.now(), event: ev, attended: process.env.CLAUDE_CODE_SESSION_ATTENDED });
if (process.argv.includes('--attended-only') && process.env.CLAUDE_CODE_SESSION_ATTENDED !== '1') {
  log({ phase: 'unattended-exit', now: Date.now() });
  process.exit(0);
}
const pidFile = file + '.waiter';
try {
  const other = Number(fs.readFileSync(pidFile, 'utf8'));
  if (other && other !== process.pid) {
    try { process.kill(other, 0); log({ phase: 'another-waiter', other }); process.exit(0); } catch {}
  }
} catch {}
fs.writeFileSync(pidFile, String(process.pid));
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(sig, () => { log({ phase: 'signal', sig, now: Date.now() }); process.exit(0); });
process.on('exit', (code) => log({ phase: 'exit', code, now: Date.now() }));
function check() {
  let text = '';
  try { text = fs.readFileSync(file, 'utf8'); } catch {}
  if (!text) return false;
  fs.writeFileSync(file, '');
  try { if (Number(fs.readFileSync(pidFile, 'utf8')) === process.pid) fs.unlinkSync(pidFile); } catch {}
  log({ phase: 'deliver', now: Date.now(), len: text.length });
  process.stdout.write(text, () => process.exit(2));
  return true;
}
if (!check()) {
  let done = false;
  const w = fs.watch(path.dirname(file), () => { if (!done && check()) { done = true; w.close(); } });
  setInterval(() => { if (!done && check()) done = true; }, 5000); // slow fallback
}
