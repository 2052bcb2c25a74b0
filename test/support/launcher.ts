/**
 * A stand-in for the `claude` executable: a program named claude that spawns `cc-dm serve` as
 * its child with stdio inherited, so the server sees a Claude Code parent with the command line
 * the test chooses.
 */
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN } from '../../src/channel/peer.js';

export function fakeClaude(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ccdm-launcher-'));
  const launcher = join(dir, 'claude');
  writeFileSync(launcher, `#!${process.execPath}\nconst { spawn } = require('node:child_process');\n` +
    `const c = spawn(process.execPath, [${JSON.stringify(BIN)}, 'serve'], { stdio: 'inherit' });\n` +
    `require('node:fs').writeFileSync(__dirname + '/child-' + process.pid, String(c.pid));\n` +
    `c.on('exit', (code) => process.exit(code ?? 1));\nprocess.on('SIGTERM', () => c.kill());\n`);
  chmodSync(launcher, 0o755);
  writeFileSync(join(dir, 'package.json'), '{"type":"commonjs"}');
  return launcher;
}
