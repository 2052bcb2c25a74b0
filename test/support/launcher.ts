/**
 * A stand-in for the `claude` executable: a program named claude that spawns `cc-dm serve` as
 * its child with stdio inherited, so the server sees a Claude Code parent with the command line
 * the test chooses. Like Claude Code, it also runs hooks as its own children (runHookUnder), so
 * a hook finds its session through the process tree as it does under the real one.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { BIN } from '../../src/channel/peer.js';
import { until } from './wait.js';

export function fakeClaude(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ccdm-launcher-'));
  const launcher = join(dir, 'claude');
  writeFileSync(launcher, `#!${process.execPath}\nconst { spawn } = require('node:child_process');\nconst fs = require('node:fs');\n` +
    `const c = spawn(process.execPath, [${JSON.stringify(BIN)}, 'serve'], { stdio: 'inherit' });\n` +
    `fs.writeFileSync(__dirname + '/child-' + process.pid, String(c.pid));\n` +
    `c.on('exit', (code) => process.exit(code ?? 1));\nprocess.on('SIGTERM', () => c.kill());\n` +
    // A hook, run as Claude Code runs one: a child of this process. The request is in
    // hook-<pid>.json ({ args, input, unset }); what came back goes to hook-<pid>.out.json.
    `process.on('SIGUSR2', () => {\n` +
    `  const base = __dirname + '/hook-' + process.pid;\n` +
    `  const req = JSON.parse(fs.readFileSync(base + '.json', 'utf8'));\n` +
    `  const env = { ...process.env };\n  for (const k of req.unset) delete env[k];\n` +
    `  const h = spawn(process.execPath, [${JSON.stringify(BIN)}, 'hook', ...req.args], { env, stdio: ['pipe', 'pipe', 'pipe'] });\n` +
    `  let stdout = '', stderr = '';\n  h.stdout.on('data', (d) => { stdout += d; });\n  h.stderr.on('data', (d) => { stderr += d; });\n` +
    `  h.on('close', (code) => { fs.writeFileSync(base + '.tmp', JSON.stringify({ code, stdout, stderr })); fs.renameSync(base + '.tmp', base + '.out.json'); });\n` +
    `  h.stdin.end(req.input);\n});\n`);
  chmodSync(launcher, 0o755);
  writeFileSync(join(dir, 'package.json'), '{"type":"commonjs"}');
  return launcher;
}

/**
 * Runs `cc-dm hook <args>` as a child of the running launcher `claudePid` (started from
 * `launcher`), with `input` on its stdin and the launcher's environment less `unset`.
 */
export async function runHookUnder(launcher: string, claudePid: number, args: string[], input: string, unset: string[] = []): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const base = join(dirname(launcher), `hook-${claudePid}`);
  rmSync(`${base}.out.json`, { force: true });
  const request = `${base}.json.tmp`;
  writeFileSync(request, JSON.stringify({ args, input, unset }));
  renameSync(request, `${base}.json`);
  process.kill(claudePid, 'SIGUSR2');
  await until(() => existsSync(`${base}.out.json`), 20_000, `the hook run under the launcher ${claudePid}`);
  return JSON.parse(readFileSync(`${base}.out.json`, 'utf8'));
}
