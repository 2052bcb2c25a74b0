// The real Codex CLI and Gemini CLI for the end-to-end tests, installed on first use into a cache
// inside the clone (`<repo>/.cache/e2e-clis/<pkg>@<version>/`), never as dependencies of the
// project: the Codex package alone pulls a ~424 MB native binary that nobody running
// `npm install` on a clone should have to download.
//
// Each CLI is installed with
//   npm install --prefix <dir> --no-save --no-audit --no-fund --ignore-scripts <pkg>@<version>
// from the npm registry, and nothing else: `--ignore-scripts` because Gemini CLI's optional
// dependencies (@github/keytar, node-pty) have install scripts that would download prebuilt
// binaries from outside the registry or compile against headers fetched from the network. Neither
// CLI needs them here (keytar is a credential store the API-key auth does not use; node-pty comes
// prebuilt in @lydell/node-pty-linux-x64, a registry package). Codex has no install scripts: its
// native binary arrives in the platform package `@openai/codex@<version>-linux-x64` (an npm alias
// in its optionalDependencies), so optional dependencies must not be omitted.
//
// Idempotent and safe when several processes race: the install goes into a private temporary
// folder next to the target, which is renamed into place only once it is complete (and checked);
// a lock folder keeps a second process from downloading the same package at the same time (a lock
// left by a dead process is taken over). A failure is an error that names the package, the folder
// and the tail of npm's output.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

function findRepoRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, '.claude-plugin'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`cannot find the cc-dm repository root above ${start}`);
    dir = up;
  }
}

export const REPO_ROOT = findRepoRoot(here);

/** Where the CLIs go; CC_DM_E2E_CLI_CACHE overrides it (e.g. to share one cache between clones). */
export function cacheRoot(): string {
  return process.env.CC_DM_E2E_CLI_CACHE || path.join(REPO_ROOT, '.cache', 'e2e-clis');
}

export interface AgentCliSpec {
  /** Short name used by the tests. */
  id: 'codex' | 'gemini';
  pkg: string;
  version: string;
  /** The package's bin script, relative to the install folder. */
  bin: string;
  /** Files that must exist for an install to count as complete (relative to the install folder). */
  mustExist: string[];
}

export const CODEX: AgentCliSpec = {
  id: 'codex',
  pkg: '@openai/codex',
  version: '0.171.0',
  bin: 'node_modules/@openai/codex/bin/codex.js',
  // The native binary ships in the platform package (linux-x64 here).
  mustExist: ['node_modules/@openai/codex/bin/codex.js', 'node_modules/@openai/codex-linux-x64/package.json'],
};

export const GEMINI: AgentCliSpec = {
  id: 'gemini',
  pkg: '@google/gemini-cli',
  version: '0.61.0',
  bin: 'node_modules/@google/gemini-cli/bundle/gemini.js',
  mustExist: ['node_modules/@google/gemini-cli/bundle/gemini.js'],
};

export const AGENT_CLIS: Record<AgentCliSpec['id'], AgentCliSpec> = { codex: CODEX, gemini: GEMINI };

export interface InstalledCli {
  spec: AgentCliSpec;
  /** The install folder. */
  dir: string;
  /** The package's bin script (a Node script: run it with `node`, or directly: it has a shebang). */
  bin: string;
  /** Codex only: the native executable the bin script spawns (the process that really runs). */
  native?: string;
  /** True when this call installed it. */
  installed: boolean;
}

/** `<cache>/<pkg>@<version>` (a scoped package gives `<cache>/@scope/name@version`). */
export function installDir(spec: AgentCliSpec): string {
  return path.join(cacheRoot(), `${spec.pkg}@${spec.version}`);
}

const MARKER = '.cc-dm-e2e-installed.json';

function complete(dir: string, spec: AgentCliSpec): boolean {
  if (!fs.existsSync(path.join(dir, MARKER))) return false;
  return spec.mustExist.every((f) => fs.existsSync(path.join(dir, f)));
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The native codex executable inside the platform package (vendor/<triple>/bin/codex). */
export function codexNative(dir: string): string | undefined {
  const vendor = path.join(dir, 'node_modules', '@openai', 'codex-linux-x64', 'vendor');
  if (!fs.existsSync(vendor)) return undefined;
  for (const triple of fs.readdirSync(vendor)) {
    const p = path.join(vendor, triple, 'bin', 'codex');
    if (fs.existsSync(p)) return p;
  }
  return undefined;
}

function result(spec: AgentCliSpec, dir: string, installed: boolean): InstalledCli {
  const out: InstalledCli = { spec, dir, bin: path.join(dir, spec.bin), installed };
  if (spec.id === 'codex') out.native = codexNative(dir);
  return out;
}

function runNpm(args: string[], cwd: string, timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const child = spawn(npm, args, {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, npm_config_update_notifier: 'false', npm_config_progress: 'false' },
    });
    let output = '';
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    const timer = setTimeout(() => {
      output += `\n(npm killed after ${timeoutMs} ms)`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: null, output: output + String(err) });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

export interface EnsureOptions {
  /** Bound on the npm install (default 15 min: the Codex package is large). */
  installTimeoutMs?: number;
  /** Bound on waiting for another process's install (default the same). */
  waitTimeoutMs?: number;
  /** Progress lines (default: to stderr when CC_DM_E2E_VERBOSE=1). */
  log?: (msg: string) => void;
}

/**
 * Make sure the pinned CLI is installed in the cache and return its paths. Installs it when
 * missing; waits for another process that is installing it; throws an error naming the package
 * when npm fails.
 */
export async function ensureAgentCli(spec: AgentCliSpec, opts: EnsureOptions = {}): Promise<InstalledCli> {
  const dir = installDir(spec);
  if (complete(dir, spec)) return result(spec, dir, false);
  const installTimeoutMs = opts.installTimeoutMs ?? 15 * 60_000;
  const waitTimeoutMs = opts.waitTimeoutMs ?? installTimeoutMs;
  const say = opts.log ?? ((m: string) => process.env.CC_DM_E2E_VERBOSE === '1' && process.stderr.write(`[e2e-clis] ${m}\n`));
  const what = `${spec.pkg}@${spec.version}`;
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  const lock = `${dir}.lock`;
  const deadline = Date.now() + waitTimeoutMs;

  // Take the lock (a folder: mkdir is atomic), or wait for its holder.
  for (;;) {
    try {
      fs.mkdirSync(lock);
      fs.writeFileSync(path.join(lock, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    if (complete(dir, spec)) return result(spec, dir, false);
    let holder = NaN;
    try {
      holder = Number(fs.readFileSync(path.join(lock, 'pid'), 'utf8'));
    } catch {
      /* being written, or gone */
    }
    let age = 0;
    try {
      age = Date.now() - fs.statSync(lock).mtimeMs;
    } catch {
      continue; // released just now: try again
    }
    // A lock whose holder died (or that never got its pid written, after a while) is stale.
    if ((Number.isFinite(holder) && holder > 0 && !pidAlive(holder)) || (!Number.isFinite(holder) && age > 10_000)) {
      say(`${what}: taking over a stale install lock (${lock})`);
      fs.rmSync(lock, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new Error(`${what}: timed out after ${waitTimeoutMs} ms waiting for another process (pid ${holder}) installing it into ${dir} (lock ${lock})`);
    }
    await sleep(250);
  }

  try {
    if (complete(dir, spec)) return result(spec, dir, false);
    const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.mkdirSync(tmp, { recursive: true });
    // An empty package.json keeps npm from walking up to the clone's own package.json.
    fs.writeFileSync(path.join(tmp, 'package.json'), JSON.stringify({ name: 'cc-dm-e2e-cli', private: true }) + '\n');
    const args = ['install', '--prefix', tmp, '--no-save', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error', what];
    say(`${what}: npm ${args.join(' ')}`);
    const t0 = Date.now();
    const r = await runNpm(args, tmp, installTimeoutMs);
    if (r.code !== 0) {
      fs.rmSync(tmp, { recursive: true, force: true });
      const tailOut = r.output.trim().split('\n').slice(-15).join('\n');
      throw new Error(`installing ${what} for the e2e tests failed (npm exit ${r.code}) into ${dir}:\n${tailOut}`);
    }
    const missing = spec.mustExist.filter((f) => !fs.existsSync(path.join(tmp, f)));
    if (missing.length) {
      fs.rmSync(tmp, { recursive: true, force: true });
      throw new Error(`installing ${what} for the e2e tests: npm succeeded but ${missing.join(', ')} is missing (platform ${os.platform()}-${os.arch()} not supported?)`);
    }
    fs.writeFileSync(
      path.join(tmp, MARKER),
      JSON.stringify({ pkg: spec.pkg, version: spec.version, installedAt: new Date().toISOString(), seconds: (Date.now() - t0) / 1000 }, null, 1) + '\n',
    );
    // Replace whatever incomplete folder was there, then move the new one into place.
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(tmp, dir);
    say(`${what}: installed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return result(spec, dir, true);
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

export const ensureCodex = (opts?: EnsureOptions) => ensureAgentCli(CODEX, opts);
export const ensureGemini = (opts?: EnsureOptions) => ensureAgentCli(GEMINI, opts);
