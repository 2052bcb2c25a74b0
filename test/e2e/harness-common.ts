// Pieces shared by the Codex CLI and Gemini CLI harnesses: a temp root per test, bounded child
// processes, a private tmux server, and cleanup that ends only what the harness started.

import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from './agent-clis.js';
import { pidAlive } from './proc.js';
import { sleep } from '../support/wait.js';

export { REPO_ROOT } from './agent-clis.js';
export const CC_DM_BIN = path.join(REPO_ROOT, 'bin', 'cc-dm.js');
/** Compiled probe helpers (probe-mcp.js, probe-hook.js) live next to this file in dist/. */
export const E2E_DIST_DIR = path.dirname(new URL(import.meta.url).pathname);
export const PROBE_MCP = path.join(E2E_DIST_DIR, 'probe-mcp.js');
export const PROBE_HOOK = path.join(E2E_DIST_DIR, 'probe-hook.js');

export const DEFAULT_TIMEOUT = 30_000;

/** Poll `check` until it returns something other than undefined/false; fail after timeoutMs naming `what`. */
export async function waitUntil<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  timeoutMs = DEFAULT_TIMEOUT,
  detail?: () => string,
  intervalMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v as T;
    if (Date.now() > deadline) {
      let extra = '';
      try {
        extra = detail ? `\n${detail()}` : '';
      } catch {
        /* ignore */
      }
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${extra}`);
    }
    await sleep(intervalMs);
  }
}

/** Progress lines on stderr when CC_DM_E2E_VERBOSE=1. */
export function log(msg: string): void {
  if (process.env.CC_DM_E2E_VERBOSE === '1') process.stderr.write(`[e2e ${new Date().toISOString().slice(11, 23)}] ${msg}\n`);
}

export function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

export function tail(text: string, lines: number): string {
  return text.split('\n').slice(-lines).join('\n');
}

export function safe(s: string): string {
  return s.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 40);
}

export function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A TOML basic string. */
export function tomlStr(s: string): string {
  return JSON.stringify(s);
}

export function loadavg(): string {
  return readText('/proc/loadavg').split(' ').slice(0, 3).join(' ');
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface HookRecord {
  t: number;
  label: string;
  pid: number;
  ppid: number;
  chain: { pid: number; ppid: number; comm: string; cmdline: string }[];
  input: any;
  env: Record<string, string>;
}

export interface McpRecord {
  t: number;
  pid: number;
  dir: 'start' | 'in' | 'out' | 'in-bad' | 'stdin-end' | 'sigterm';
  msg?: any;
  env?: Record<string, string>;
  chain?: { pid: number; ppid: number; comm: string; cmdline: string }[];
}

function readJsonl<T>(file: string): T[] {
  return readText(file)
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      try {
        return JSON.parse(l) as T;
      } catch {
        return undefined;
      }
    })
    .filter((x): x is T => x !== undefined);
}

/** Roots not yet cleaned up: if the test process is stopped, end what they started (synchronously). */
/**
 * Runs a command with an exact environment, bounded (SIGKILL after `timeoutMs`, failing with the
 * tails of its output); resolves when it exits. `children` holds it while it runs, for cleanup.
 */
export function runBounded(
  children: Set<ChildProcess>,
  cmd: string,
  args: string[],
  env: Record<string, string>,
  timeoutMs: number,
  what: string,
  cwd: string,
  input?: string,
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(cmd, args, { cwd, env, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    children.add(child);
    if (input !== undefined) child.stdin!.end(input);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${what} did not finish within ${timeoutMs} ms\nstdout: ${tail(stdout, 20)}\nstderr: ${tail(stderr, 20)}`));
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      children.delete(child);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

const liveRoots = new Set<TempRoot>();
function emergencyCleanup(): void {
  for (const r of liveRoots) r.endNow();
}
process.on('exit', emergencyCleanup);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(sig, () => {
    emergencyCleanup();
    process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1));
  });
}

/**
 * A temp root with a throwaway HOME, a working directory, a CC_DM_HOME, a folder for the probes'
 * records, and a private tmux server; tracks every child and tmux session it starts.
 */
export class TempRoot {
  readonly root: string;
  readonly home: string;
  readonly cwd: string;
  readonly ccdmHome: string;
  readonly probeDir: string;
  readonly tmuxSocket: string;
  protected children = new Set<ChildProcess>();
  /** Extra pids to end at cleanup (processes this harness caused to start, e.g. a daemon). */
  protected pidsToEnd = new Set<number>();
  protected cleanups: (() => Promise<void> | void)[] = [];
  private tmuxUsed = false;

  constructor(readonly label: string, opts: { ccdmHome?: string } = {}) {
    this.root = fs.mkdtempSync(path.join(os.tmpdir(), 'ccdm-e2e-'));
    this.home = path.join(this.root, 'home');
    this.cwd = path.join(this.root, 'work');
    this.ccdmHome = opts.ccdmHome ?? path.join(this.root, 'ccdm');
    this.probeDir = path.join(this.root, 'probe');
    this.tmuxSocket = path.join(this.root, 'tmux.sock');
    for (const d of [this.home, this.cwd, this.probeDir]) fs.mkdirSync(d, { recursive: true });
    liveRoots.add(this);
  }

  /** Synchronous last resort (process exit or signal): kill the tmux server, children and registered pids. */
  endNow(): void {
    if (this.tmuxUsed) spawnSync('tmux', ['-S', this.tmuxSocket, 'kill-server'], { stdio: 'ignore' });
    for (const c of this.children) c.kill('SIGKILL');
    for (const pid of this.pidsToEnd) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }

  /** Every probe hook record so far (the probe hook appends to <probeDir>/hooks.jsonl). */
  hookRecords(label?: string): HookRecord[] {
    const all = readJsonl<HookRecord>(path.join(this.probeDir, 'hooks.jsonl'));
    return label ? all.filter((r) => r.label === label) : all;
  }

  /** Records of the probe MCP server(s) logging to <probeDir>/<file>. */
  mcpRecords(file = 'mcp.jsonl'): McpRecord[] {
    return readJsonl<McpRecord>(path.join(this.probeDir, file));
  }

  /** Set the probe hook's answer for a label (`once`: used by the next call only). */
  setHookReply(label: string, reply: unknown | undefined, once = false): void {
    const f = path.join(this.probeDir, `reply-${label}${once ? '.once' : ''}.json`);
    if (reply === undefined) fs.rmSync(f, { force: true });
    else fs.writeFileSync(f, typeof reply === 'string' ? reply : JSON.stringify(reply));
  }

  setHookExit(label: string, code: number | undefined): void {
    const f = path.join(this.probeDir, `exit-${label}`);
    if (code === undefined) fs.rmSync(f, { force: true });
    else fs.writeFileSync(f, String(code));
  }

  /** Waits for a probe hook record matching pred (bounded). */
  waitForHook(pred: (r: HookRecord) => boolean, what: string, timeoutMs = DEFAULT_TIMEOUT): Promise<HookRecord> {
    return waitUntil(() => this.hookRecords().find(pred), `hook record: ${what}`, timeoutMs, () =>
      `hooks so far: ${this.hookRecords().map((r) => r.label).join(', ') || 'none'}`,
    );
  }

  /** Runs a command with an exact environment, bounded; resolves when it exits. */
  run(cmd: string, args: string[], env: Record<string, string>, timeoutMs: number, what: string, cwd = this.cwd, input?: string): Promise<RunResult> {
    return runBounded(this.children, cmd, args, env, timeoutMs, what, cwd, input);
  }

  /** tmux on this root's private server, ignoring ~/.tmux.conf. */
  tmux(args: string[], check = true): string {
    this.tmuxUsed = true;
    const r = spawnSync('tmux', ['-f', '/dev/null', '-S', this.tmuxSocket, ...args], { encoding: 'utf8' });
    if (check && r.status !== 0) throw new Error(`tmux ${args.join(' ')} failed: ${r.stderr}`);
    return r.stdout ?? '';
  }

  /** Writes a launcher script that execs `cmd args` with exactly `env` in `cwd`, stderr to a file. */
  writeLauncher(name: string, env: Record<string, string>, cmd: string, args: string[], stderrFile: string): string {
    const launcher = path.join(this.root, `launch-${safe(name)}.sh`);
    const lines = [
      '#!/bin/sh',
      `cd ${shq(this.cwd)}`,
      'exec env -i ' + Object.entries(env).map(([k, v]) => `${k}=${shq(v)}`).join(' ') + ` ${shq(cmd)} ` + args.map(shq).join(' ') + ` 2>>${shq(stderrFile)}`,
    ];
    fs.writeFileSync(launcher, lines.join('\n') + '\n', { mode: 0o755 });
    return launcher;
  }

  /** Registers a pid to end (TERM, then KILL) at cleanup. */
  endAtCleanup(pid: number): void {
    this.pidsToEnd.add(pid);
  }

  onCleanup(fn: () => Promise<void> | void): void {
    this.cleanups.push(fn);
  }

  async cleanup(failed = false): Promise<void> {
    liveRoots.delete(this);
    for (const fn of this.cleanups.reverse()) {
      try {
        await fn();
      } catch {
        /* best effort */
      }
    }
    if (this.tmuxUsed) spawnSync('tmux', ['-S', this.tmuxSocket, 'kill-server'], { stdio: 'ignore' });
    for (const c of this.children) c.kill('SIGKILL');
    for (const pid of this.pidsToEnd) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        /* gone */
      }
    }
    await waitUntil(() => [...this.pidsToEnd].every((p) => !pidAlive(p)), 'harness processes to exit', 3_000).catch(() => {
      for (const pid of this.pidsToEnd) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    });
    if (process.env.CC_DM_E2E_KEEP === '1' || (failed && process.env.CC_DM_E2E_KEEP_FAILED === '1')) {
      process.stderr.write(`[e2e] kept ${this.root}\n`);
      return;
    }
    fs.rmSync(this.root, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }
}

/** Runs `fn` with a fresh environment and always cleans up (keeps the root on failure with CC_DM_E2E_KEEP_FAILED=1). */
export async function withRoot<E extends TempRoot, T>(make: () => Promise<E>, fn: (env: E) => Promise<T>): Promise<T> {
  const env = await make();
  let failed = false;
  try {
    return await fn(env);
  } catch (err) {
    failed = true;
    throw err;
  } finally {
    await env.cleanup(failed);
  }
}

/** Fail early, naming what is missing: tmux (installed with apt-get as root when possible). */
export function ensureTmux(): void {
  if (spawnSync('tmux', ['-V'], { stdio: 'ignore' }).status === 0) return;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot && spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0) {
    spawnSync('apt-get', ['update'], { stdio: 'ignore', timeout: 300_000 });
    spawnSync('apt-get', ['install', '-y', 'tmux'], { stdio: 'ignore', timeout: 300_000, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (spawnSync('tmux', ['-V'], { stdio: 'ignore' }).status === 0) return;
  }
  throw new Error('the e2e tests need tmux (the system package "tmux"); install it, e.g. apt-get install -y tmux');
}

/** A session running under tmux. */
export interface TmuxSession {
  name: string;
  target: string;
  /** The pid of the pane's process (what the launcher exec'd). */
  pid?: number;
  screen(): string;
  /** Sends the text and Enter at once (a TUI may take the burst as a paste: prefer submit). */
  type(text: string): void;
  /**
   * Types the text, waits until the composer shows it, then presses Enter; presses Enter once
   * more if the text is still in the composer (a TUI that took the keys as a paste). Bounded.
   */
  submit(text: string, composer?: RegExp, timeoutMs?: number): Promise<void>;
  sendKeys(...keys: string[]): void;
  waitForScreen(re: RegExp, what: string, timeoutMs?: number): Promise<string>;
  alive(): boolean;
  /** Ends the pane's process with `keys` first (e.g. C-c C-c), then kills the tmux session. */
  stop(keys?: string[]): Promise<void>;
}

export function startTmux(root: TempRoot, name: string, launcher: string, stderrFile: string): TmuxSession {
  ensureTmux();
  const target = `${safe(name)}-${Math.random().toString(36).slice(2, 6)}`;
  root.tmux(['new-session', '-d', '-s', target, '-x', '200', '-y', '50', launcher]);
  const paneTarget = `${target}:0.0`;
  const pid = Number(root.tmux(['display-message', '-p', '-t', paneTarget, '#{pane_pid}'], false).trim()) || undefined;
  const alive = () => spawnSync('tmux', ['-S', root.tmuxSocket, 'has-session', '-t', target], { stdio: 'ignore' }).status === 0;
  const s: TmuxSession = {
    name,
    target: paneTarget,
    pid,
    screen: () => root.tmux(['capture-pane', '-p', '-t', paneTarget], false),
    type(text: string) {
      root.tmux(['send-keys', '-t', paneTarget, '-l', text]);
      root.tmux(['send-keys', '-t', paneTarget, 'Enter']);
    },
    async submit(text: string, composer = /^\s*[›>*]\s+(.*)$/m, timeoutMs = 10_000) {
      const probe = text.slice(0, 40);
      // The composer is the last line that looks like a prompt (the transcript above echoes
      // submitted prompts with the same mark).
      const inComposer = () => {
        const lines = s.screen().split('\n').map((l) => composer.exec(l)).filter((m): m is RegExpExecArray => !!m);
        const last = lines[lines.length - 1];
        return !!last && last[1].includes(probe);
      };
      root.tmux(['send-keys', '-t', paneTarget, '-l', text]);
      const shown = () => s.screen().split('\n').filter((l) => l.trim()).slice(-25).join('\n');
      await waitUntil(() => inComposer() || undefined, `${name}: typed text in the composer`, timeoutMs, shown);
      root.tmux(['send-keys', '-t', paneTarget, 'Enter']);
      const left = await waitUntil(() => !inComposer() || undefined, 'composer to clear', 2_000).catch(() => false);
      if (!left) {
        root.tmux(['send-keys', '-t', paneTarget, 'Enter']);
        await waitUntil(() => !inComposer() || undefined, `${name}: the composer to clear after Enter`, timeoutMs, shown);
      }
    },
    sendKeys: (...keys: string[]) => void root.tmux(['send-keys', '-t', paneTarget, ...keys]),
    waitForScreen: (re, what, timeoutMs = DEFAULT_TIMEOUT) =>
      waitUntil(
        () => {
          const sc = s.screen();
          return re.test(sc) ? sc : undefined;
        },
        `${name}: ${what} on screen`,
        timeoutMs,
        () => `--- screen ---\n${tail(s.screen(), 30)}\n--- stderr ---\n${tail(readText(stderrFile), 15)}`,
      ),
    alive,
    async stop(keys = ['C-c', 'C-c']) {
      if (!alive()) return;
      for (const k of keys) root.tmux(['send-keys', '-t', paneTarget, k], false);
      await waitUntil(() => !alive() || undefined, `${name} to exit`, 5_000).catch(() => undefined);
      root.tmux(['kill-session', '-t', target], false);
      if (pid) {
        await waitUntil(() => !pidAlive(pid) || undefined, `${name} (pid ${pid}) to exit`, 5_000).catch(() => {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* gone */
          }
        });
      }
    },
  };
  return s;
}
