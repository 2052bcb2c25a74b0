// cc-dm as a user gets it: `npm pack` of this clone, installed into a temporary prefix with npm,
// globally (`npm install -g`: the package keeps its own node_modules) or into a project (its
// dependencies hoisted next to it, as npx does too).
//
// The install runs with --ignore-scripts and takes better-sqlite3's native build from this clone
// (same Node, same version range): its own install step would download a prebuilt binary (not
// reachable here) or compile SQLite for minutes, and neither is what these tests are about.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from './claude.js';

export interface Packed {
  tarball: string;
  dir: string;
  version: string;
}

/** `npm pack` of the clone (built already: dist/ is what the tests run). */
export function packClone(): Packed {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccdm-pack-'));
  const r = spawnSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir], {
    cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000,
  });
  if (r.status !== 0) throw new Error(`npm pack failed (${r.status}): ${r.stderr}`);
  const name = r.stdout.trim().split('\n').at(-1)!;
  const version = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')).version;
  return { tarball: path.join(dir, name), dir, version };
}

/** The files a packed tarball holds (paths inside `package/`). */
export function tarballFiles(tarball: string): string[] {
  const r = spawnSync('tar', ['tzf', tarball], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tar tzf ${tarball}: ${r.stderr}`);
  return r.stdout.split('\n').filter(Boolean).map((f) => f.replace(/^package\//, ''));
}

export interface Installed {
  prefix: string;
  /** The installed package's folder. */
  root: string;
  /** Its `cc-dm` executable (the link npm made). */
  bin: string;
}

/** `npm install [-g] --prefix <prefix> <tarball>`, bounded; then the native SQLite build. */
export function installTarball(tarball: string, prefix: string, global: boolean): Installed {
  fs.mkdirSync(prefix, { recursive: true });
  const args = ['install', ...(global ? ['-g'] : []), '--prefix', prefix, '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund', tarball];
  const r = spawnSync('npm', args, { cwd: prefix, encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`npm ${args.join(' ')} failed (${r.status}): ${r.stdout}${r.stderr}`);
  const root = global ? path.join(prefix, 'lib', 'node_modules', 'cc-dm') : path.join(prefix, 'node_modules', 'cc-dm');
  const bin = global ? path.join(prefix, 'bin', 'cc-dm') : path.join(prefix, 'node_modules', '.bin', 'cc-dm');
  // Where Node finds better-sqlite3 from the installed package (its own node_modules, or hoisted):
  // the clone's copy replaces it (its JS and native build go together, whatever version npm chose).
  const sqlite = path.dirname(createRequire(path.join(root, 'package.json')).resolve('better-sqlite3/package.json'));
  const ours = path.join(REPO_ROOT, 'node_modules', 'better-sqlite3');
  fs.rmSync(sqlite, { recursive: true, force: true });
  for (const part of ['package.json', 'lib', path.join('build', 'Release', 'better_sqlite3.node')]) {
    fs.cpSync(path.join(ours, part), path.join(sqlite, part), { recursive: true });
  }
  return { prefix, root, bin };
}
