// System packages the suites need: installed with apt-get where we can (root), otherwise a
// clear failure naming the package. Never a silent skip.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const CHECKS = {
  postgresql: () => findPgBin('initdb') !== undefined,
  chromium: () => existsSync('/usr/bin/chromium'),
  tmux: () => spawnSync('tmux', ['-V']).status === 0,
};

export function findPgBin(name) {
  const r = spawnSync('bash', ['-c', `ls -d /usr/lib/postgresql/*/bin/${name} 2>/dev/null | sort -V | tail -1`], { encoding: 'utf8' });
  const p = r.stdout.trim();
  return p && existsSync(p) ? p : undefined;
}

export function ensurePackages(names) {
  const missing = names.filter((n) => !CHECKS[n]());
  if (missing.length === 0) return;
  const isRoot = process.getuid?.() === 0;
  if (!isRoot) {
    console.error(`missing system package(s): ${missing.join(', ')}. Install them (sudo apt-get install -y ${missing.join(' ')}) and run the tests again.`);
    process.exit(1);
  }
  console.log(`installing system package(s): ${missing.join(', ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  const r = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
  const still = missing.filter((n) => !CHECKS[n]());
  if (r.status !== 0 || still.length) {
    console.error(`could not install system package(s): ${still.join(', ') || missing.join(', ')}; the tests that need them cannot run.`);
    process.exit(1);
  }
}
