// A probe hook command for Codex CLI and Gemini CLI: records its input and environment, and
// answers with whatever the test put in place for that event.
//
//   node dist/test/e2e/probe-hook.js <dir> <label>
//
// - appends `{t, label, pid, ppid, chain, input, env}` to <dir>/hooks.jsonl (input = the JSON the
//   CLI wrote on stdin, parsed);
// - if <dir>/reply-<label>.json exists, writes its content to stdout (the hook's answer);
//   if <dir>/reply-<label>.once.json exists, uses it once and deletes it (takes precedence);
// - if <dir>/exit-<label> exists, exits with the number in it (default 0).
//
// The test changes the answer between turns by rewriting those files.

import fs from 'node:fs';
import path from 'node:path';
import { parentChain } from './proc.js';

const [dir, label = 'hook'] = process.argv.slice(2);
if (!dir) {
  process.stderr.write('usage: probe-hook <dir> <label>\n');
  process.exit(2);
}

const chunks: Buffer[] = [];
process.stdin.on('data', (c: Buffer) => chunks.push(c));
process.stdin.on('end', () => {
  const raw = Buffer.concat(chunks).toString('utf8');
  let input: unknown = raw;
  try {
    input = JSON.parse(raw);
  } catch {
    /* keep raw */
  }
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  fs.appendFileSync(
    path.join(dir, 'hooks.jsonl'),
    JSON.stringify({ t: Date.now(), label, pid: process.pid, ppid: process.ppid, chain: parentChain(process.pid, 5), argv: process.argv.slice(2), input, env }) + '\n',
  );
  const once = path.join(dir, `reply-${label}.once.json`);
  const always = path.join(dir, `reply-${label}.json`);
  let reply: string | undefined;
  if (fs.existsSync(once)) {
    reply = fs.readFileSync(once, 'utf8');
    fs.rmSync(once, { force: true });
  } else if (fs.existsSync(always)) reply = fs.readFileSync(always, 'utf8');
  if (reply !== undefined) process.stdout.write(reply);
  const exitFile = path.join(dir, `exit-${label}`);
  const code = fs.existsSync(exitFile) ? Number(fs.readFileSync(exitFile, 'utf8').trim() || '0') : 0;
  process.exitCode = code;
});
