#!/usr/bin/env node
// Context probe: answers with additionalContext (or a Stop block) by event.
//   ctx.mjs EVENT   (UserPromptSubmit reads "SIZE=<n>" in the prompt: context of n characters)
import fs from 'node:fs';
const ev = process.argv[2];
const input = JSON.parse(fs.readFileSync(0, 'utf8') || '{}');
const log = (o) => process.env.SPIKE_LOG && fs.appendFileSync(process.env.SPIKE_LOG, JSON.stringify({ label: 'ctx', ev, now: Date.now(), ...o }) + '\n');
log({ input: { ...input, transcript_path: undefined } });
function filler(n, tag) {
  const head = `<<${tag}-BEGIN>>`;
  const tail = `<<${tag}-END>>`;
  let body = '';
  let i = 0;
  while (body.length < n - head.length - tail.length) body += `[${tag}-${String(i++).padStart(6, '0')}]`;
  return head + body.slice(0, Math.max(0, n - head.length - tail.length)) + tail;
}
const out = (o) => process.stdout.write(JSON.stringify(o));
const counter = (process.env.SPIKE_WATCH ?? '/tmp/spike') + '.' + ev + '.count';
let n = 0;
try { n = Number(fs.readFileSync(counter, 'utf8')); } catch {}
fs.writeFileSync(counter, String(n + 1));
switch (ev) {
  case 'UserPromptSubmit': {
    const mb = /MBSIZE=(\d+)/.exec(input.prompt ?? '');
    if (mb) {
      const n = Number(mb[1]);
      out({ hookSpecificOutput: { hookEventName: ev, additionalContext: `<<MB${n}-BEGIN>>` + 'é'.repeat(n) + `<<MB${n}-END>>` } });
      break;
    }
    const m = /SIZE=(\d+)/.exec(input.prompt ?? '');
    out({ hookSpecificOutput: { hookEventName: ev, additionalContext: m ? filler(Number(m[1]), `UPS${m[1]}`) : `UPS-CTX-${n}` } });
    break;
  }
  case 'PostToolUse':
  case 'PostToolBatch':
  case 'Notification':
    out({ hookSpecificOutput: { hookEventName: ev, additionalContext: `${ev}-CTX-${n}` } });
    break;
  case 'Stop':
    if (process.env.SPIKE_STOP !== '1') break;
    if (n === 0) out({ hookSpecificOutput: { hookEventName: 'Stop', additionalContext: 'STOP-CTX-0' } });
    else if (n === 1) out({ decision: 'block', reason: 'STOP-BLOCK-1' });
    break;
}
