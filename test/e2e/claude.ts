// Harness for end-to-end tests with the real Claude Code CLI, offline.
//
// Each test gets an E2eEnv: a temporary root holding a throwaway HOME (with a .claude.json that
// pre-accepts onboarding, the dummy API key, trust of the working directory, and turns on the
// channel feature flags), a working directory, and a CC_DM_HOME shared by the test's sessions.
// cc-dm is installed into that HOME as a plugin from the clone through its local marketplace.
// Each session (interactive under tmux, or headless `claude -p`) talks to its own Messages API
// stand-in, so every recorded request belongs to exactly one session.
//
// Every wait is bounded and names what did not arrive; nothing sleeps for a fixed time.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Script, Standin, startStandin, defaultScript } from './standin.js';
import { CC_DM_BIN, DEFAULT_TIMEOUT, REPO_ROOT, ensureTmux, log, readText, runBounded, safe, shq, tail, waitUntil, type RunResult } from './harness-common.js';
import { sleep } from '../support/wait.js';

export { CC_DM_BIN, E2E_DIST_DIR, REPO_ROOT, ensureTmux, log, waitUntil } from './harness-common.js';
export const CLAUDE_BIN = path.join(REPO_ROOT, 'node_modules', '.bin', 'claude');

/** A dummy key: the stand-in accepts anything; .claude.json pre-approves its last 20 chars. */
export const DUMMY_API_KEY = 'sk-ant-api03-ccdm-e2e-' + 'x'.repeat(64) + '-e2eAA';

/** Name Claude Code gives the cc-dm plugin's MCP server (the `source` of its <channel> tags). */
export const PLUGIN_SERVER = 'plugin:cc-dm:cc-dm';
/** Tool-name prefix Claude Code gives the plugin's tools. */
export const PLUGIN_TOOL_PREFIX = 'mcp__plugin_cc-dm_cc-dm__';
export const pluginTool = (tool: string) => PLUGIN_TOOL_PREFIX + tool;
export const PLUGIN_CHANNEL = 'plugin:cc-dm@cc-dm';

/** Check the prerequisites the e2e tests cannot do without; returns a reason to skip or undefined. */
export function missingPrerequisite(): string | undefined {
  if (!fs.existsSync(CLAUDE_BIN)) return `${CLAUDE_BIN} is missing: run npm install`;
  if (!fs.existsSync(CC_DM_BIN)) return `${CC_DM_BIN} is missing`;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// The per-test environment

export interface SessionOptions {
  /** Label for logs and the tmux window; also CC_DM_SESSION_NAME unless env overrides it. */
  name: string;
  role?: string;
  project?: string;
  /** Set CC_DM_SESSION_NAME/ROLE/PROJECT from name/role/project (default true). */
  identityEnv?: boolean;
  /** Extra environment for Claude Code (and so for the MCP servers it starts). */
  env?: Record<string, string>;
  /** The stand-in's script for this session. */
  script?: Script;
  /** Interactive only: load the cc-dm plugin as a development channel (default true). */
  channels?: boolean;
  /** Channel specs passed to --dangerously-load-development-channels (default the plugin). */
  channelSpec?: string | string[];
  /** An --mcp-config file to pass (for non-plugin servers such as the push-only baseline). */
  mcpConfig?: string;
  permissionMode?: string;
  allowedTools?: string[];
  extraArgs?: string[];
}

export interface InteractiveSession {
  name: string;
  /** Claude Code's pid (the launcher execs it in the tmux pane). */
  pid: number | undefined;
  standin: Standin;
  debugFile: string;
  tmuxTarget: string;
  /** Current screen of the session. */
  screen(): string;
  /** Type text followed by Enter. */
  type(text: string): void;
  sendKeys(...keys: string[]): void;
  /** Wait for a line matching re in the debug log (searching from `fromOffset`). */
  waitForDebug(re: RegExp, what: string, timeoutMs?: number, fromOffset?: number): Promise<string>;
  debugLog(): string;
  /** Stop the session (C-c twice, then kill the window). */
  stop(): Promise<void>;
  /** Diagnostics for failure messages. */
  describe(): string;
}

export interface HeadlessResult {
  code: number | null;
  stdout: string;
  stderr: string;
  standin: Standin;
  debugFile: string;
}

export interface EnvOptions {
  /** Folder holding the local marketplace (default the clone itself, REPO_ROOT). */
  marketplaceDir?: string;
  /** Install the cc-dm plugin into HOME (default true). */
  installPlugin?: boolean;
}

let envCounter = 0;

export class E2eEnv {
  readonly root: string;
  readonly home: string;
  readonly cwd: string;
  readonly ccdmHome: string;
  readonly tmuxSocket: string;
  private standins: Standin[] = [];
  private sessions: InteractiveSession[] = [];
  private children = new Set<ReturnType<typeof spawn>>();
  private sessionCounter = 0;

  private constructor(readonly label: string, root: string) {
    this.root = root;
    this.home = path.join(root, 'home');
    this.cwd = path.join(root, 'work');
    this.ccdmHome = path.join(root, 'ccdm');
    // A private tmux server per test, its socket inside the temp root (removed with it).
    this.tmuxSocket = path.join(root, "tmux.sock");
    envCounter++;
    fs.mkdirSync(this.home, { recursive: true });
    fs.mkdirSync(this.cwd, { recursive: true });
    // Created on first use by cc-dm itself (it sets the mode), but the parent must exist.
  }

  static async create(label: string, opts: EnvOptions = {}): Promise<E2eEnv> {
    // A short root: cc-dm keeps Unix sockets under CC_DM_HOME, and socket paths are limited.
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ccdm-e2e-'));
    const env = new E2eEnv(label, root);
    env.writeClaudeJson();
    if (opts.installPlugin !== false) await env.installPlugin(opts.marketplaceDir ?? REPO_ROOT);
    return env;
  }

  /** The .claude.json that lets Claude Code start with no dialogs and channels enabled. */
  writeClaudeJson(extra: Record<string, unknown> = {}): void {
    const project = {
      hasTrustDialogAccepted: true,
      hasCompletedProjectOnboarding: true,
      projectOnboardingSeenCount: 1,
      allowedTools: [],
    };
    const json = {
      hasCompletedOnboarding: true,
      lastOnboardingVersion: '2.1.332',
      numStartups: 10,
      theme: 'dark',
      autoUpdates: false,
      customApiKeyResponses: { approved: [DUMMY_API_KEY.slice(-20)], rejected: [] },
      projects: { [this.cwd]: project, [fs.realpathSync(this.cwd)]: project },
      cachedGrowthBookFeatures: { tengu_harbor: true, tengu_harbor_permissions: true },
      ...extra,
    };
    fs.writeFileSync(path.join(this.home, '.claude.json'), JSON.stringify(json, null, 2));
  }

  /** Environment for every Claude Code process of this test. */
  baseEnv(extra: Record<string, string> = {}): Record<string, string> {
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      HOME: this.home,
      USER: process.env.USER ?? 'root',
      SHELL: '/bin/bash',
      TERM: 'xterm-256color',
      LANG: process.env.LANG ?? 'C.UTF-8',
      TMPDIR: os.tmpdir(),
      ANTHROPIC_API_KEY: DUMMY_API_KEY,
      DISABLE_AUTOUPDATER: '1',
      CC_DM_HOME: this.ccdmHome,
      ...extra,
    };
    return env;
  }

  /**
   * Run a `claude` subcommand (plugin management, mcp list) with this HOME, bounded. Without an
   * API key: with one, these commands spend ~17 s each on network attempts that fail offline.
   */
  async claudeCommand(args: string[], timeoutMs = 120_000): Promise<RunResult> {
    const env = this.baseEnv();
    delete env.ANTHROPIC_API_KEY;
    return this.run(CLAUDE_BIN, args, env, timeoutMs, `claude ${args.join(' ')}`);
  }

  private run(cmd: string, args: string[], env: Record<string, string>, timeoutMs: number, what: string): Promise<RunResult> {
    return runBounded(this.children, cmd, args, env, timeoutMs, what, this.cwd);
  }

  async installPlugin(marketplaceDir: string): Promise<void> {
    log(`${this.label}: installing the plugin from ${marketplaceDir}`);
    const add = await this.claudeCommand(['plugin', 'marketplace', 'add', marketplaceDir]);
    if (add.code !== 0) {
      throw new Error(`claude plugin marketplace add ${marketplaceDir} failed (${add.code}): ${add.stdout}${add.stderr}`);
    }
    const inst = await this.claudeCommand(['plugin', 'install', 'cc-dm@cc-dm']);
    if (inst.code !== 0) {
      throw new Error(`claude plugin install cc-dm@cc-dm failed (${inst.code}): ${inst.stdout}${inst.stderr}`);
    }
    log(`${this.label}: plugin installed`);
  }

  private sessionEnv(o: SessionOptions, standin: Standin): Record<string, string> {
    const id: Record<string, string> = {};
    if (o.identityEnv !== false) {
      id.CC_DM_SESSION_NAME = o.name;
      if (o.role) id.CC_DM_SESSION_ROLE = o.role;
      if (o.project) id.CC_DM_SESSION_PROJECT = o.project;
    }
    return this.baseEnv({ ANTHROPIC_BASE_URL: standin.url, ...id, ...(o.env ?? {}) });
  }

  private commonArgs(o: SessionOptions, debugFile: string): string[] {
    const args = ['--debug-file', debugFile];
    if (o.mcpConfig) args.push('--mcp-config', o.mcpConfig);
    if (o.permissionMode) args.push('--permission-mode', o.permissionMode);
    if (o.extraArgs) args.push(...o.extraArgs);
    // --allowedTools takes several values: keep it last and end it with `--`.
    if (o.allowedTools?.length) args.push('--allowedTools', ...o.allowedTools);
    return args;
  }

  /** tmux on this test's private server, ignoring any ~/.tmux.conf (it could renumber windows). */
  private tmux(args: string[], check = true): string {
    const r = spawnSync('tmux', ['-f', '/dev/null', '-S', this.tmuxSocket, ...args], { encoding: 'utf8' });
    if (check && r.status !== 0) throw new Error(`tmux ${args.join(' ')} failed: ${r.stderr}`);
    return r.stdout ?? '';
  }

  /** Start an interactive Claude Code session under tmux and wait until it is ready. */
  async startInteractive(o: SessionOptions, timeoutMs = 60_000): Promise<InteractiveSession> {
    ensureTmux();
    const n = ++this.sessionCounter;
    const standin = await startStandin(o.script ?? defaultScript, `stand-in of ${o.name}`);
    this.standins.push(standin);
    const debugFile = path.join(this.root, `debug-${n}-${safe(o.name)}.log`);
    const env = this.sessionEnv(o, standin);
    const args = this.commonArgs(o, debugFile);
    const channels = o.channels !== false;
    if (channels) args.push('--dangerously-load-development-channels', ...[o.channelSpec ?? PLUGIN_CHANNEL].flat());
    if (o.allowedTools?.length || channels) args.push('--');
    // A launcher script keeps the environment exact (tmux would otherwise add its own).
    const launcher = path.join(this.root, `launch-${n}-${safe(o.name)}.sh`);
    const lines = ['#!/bin/sh', `cd ${shq(this.cwd)}`];
    lines.push(
      'exec env -i ' +
        Object.entries(env)
          .map(([k, v]) => `${k}=${shq(v)}`)
          .join(' ') +
        ` ${shq(CLAUDE_BIN)} ` +
        args.map(shq).join(' ') +
        ` 2>>${shq(path.join(this.root, `stderr-${n}-${safe(o.name)}.log`))}`,
    );
    fs.writeFileSync(launcher, lines.join('\n') + '\n', { mode: 0o755 });
    const target = `s${n}-${safe(o.name)}`;
    log(`${this.label}: starting interactive ${o.name}`);
    this.tmux(['new-session', '-d', '-s', target, '-x', '200', '-y', '50', launcher]);
    const tmuxTarget = `${target}:0.0`;
    // The launcher execs Claude Code, so the pane's process is Claude Code itself.
    const pid = Number(this.tmux(['display-message', '-p', '-t', tmuxTarget, '#{pane_pid}'], false).trim()) || undefined;
    const self = this;
    const session: InteractiveSession = {
      name: o.name,
      pid,
      standin,
      debugFile,
      tmuxTarget,
      screen() {
        return self.tmux(['capture-pane', '-p', '-t', tmuxTarget], false);
      },
      type(text: string) {
        self.tmux(['send-keys', '-t', tmuxTarget, '-l', text]);
        self.tmux(['send-keys', '-t', tmuxTarget, 'Enter']);
      },
      sendKeys(...keys: string[]) {
        self.tmux(['send-keys', '-t', tmuxTarget, ...keys]);
      },
      debugLog() {
        return readText(debugFile);
      },
      async waitForDebug(re, what, t = DEFAULT_TIMEOUT, fromOffset = 0) {
        return waitUntil(
          () => {
            const m = readText(debugFile).slice(fromOffset).match(re);
            return m ? m[0] : undefined;
          },
          `${what} (in ${o.name}'s debug log)`,
          t,
          () => session.describe(),
        );
      },
      async stop() {
        const alive = () => spawnSync('tmux', ['-S', self.tmuxSocket, 'has-session', '-t', target], { stdio: 'ignore' }).status === 0;
        if (!alive()) return;
        self.tmux(['send-keys', '-t', tmuxTarget, 'C-c'], false);
        self.tmux(['send-keys', '-t', tmuxTarget, 'C-c'], false);
        await waitUntil(() => !alive(), `${o.name} to exit`, 5_000).catch(() => undefined);
        self.tmux(['kill-session', '-t', target], false);
        if (pid) {
          const running = () => {
            try {
              process.kill(pid, 0);
              return true;
            } catch {
              return false;
            }
          };
          await waitUntil(() => !running(), `${o.name}'s Claude Code (pid ${pid}) to exit`, 5_000).catch(() => {
            try {
              process.kill(pid, 'SIGKILL');
            } catch {
              /* gone */
            }
          });
          await waitUntil(() => !running(), `${o.name}'s Claude Code (pid ${pid}) to die`, 5_000).catch(() => undefined);
        }
      },
      describe() {
        return (
          `--- ${o.name}: screen ---\n${tail(session.screen(), 25)}\n` +
          `--- ${o.name}: debug log (last lines) ---\n${tail(readText(debugFile), 25)}\n` +
          `--- ${o.name}: stderr ---\n${tail(readText(path.join(self.root, `stderr-${n}-${safe(o.name)}.log`)), 10)}`
        );
      },
    };
    this.sessions.push(session);

    // The development-channels warning: accept it with Enter once it is on screen.
    if (channels) {
      await waitUntil(
        () => /dangerously|development channel|local development/i.test(session.screen()) || /Channel notifications registered/.test(readText(debugFile)),
        `${o.name}: the development-channels warning dialog`,
        timeoutMs,
        () => session.describe(),
      );
      if (!/Channel notifications registered/.test(readText(debugFile))) session.sendKeys('Enter');
      await session.waitForDebug(/Channel notifications registered/, 'Channel notifications registered', timeoutMs);
    }
    // Ready for input: the prompt box is drawn.
    await waitUntil(
      () => /❯|>\s/.test(session.screen()) && !/dangerously/i.test(session.screen()),
      `${o.name}: the input prompt`,
      timeoutMs,
      () => session.describe(),
    );
    log(`${this.label}: ${o.name} ready`);
    return session;
  }

  /**
   * Run a headless `claude -p` (it can call tools, e.g. send a dm, but cannot receive pushes).
   * Resolves when it exits (bounded).
   */
  async runHeadless(o: SessionOptions & { prompt: string }, timeoutMs = 60_000): Promise<HeadlessResult> {
    const n = ++this.sessionCounter;
    const standin = await startStandin(o.script ?? defaultScript, `stand-in of ${o.name}`);
    this.standins.push(standin);
    const debugFile = path.join(this.root, `debug-${n}-${safe(o.name)}.log`);
    const env = this.sessionEnv(o, standin);
    const args = ['-p', o.prompt, ...this.commonArgs(o, debugFile)];
    if (o.allowedTools?.length) args.push('--');
    log(`${this.label}: running headless ${o.name}`);
    // SPIKE_CLAUDE_BIN (hooks spike): run Claude Code through a wrapper (e.g. a mount namespace).
    const bin = o.env?.SPIKE_CLAUDE_BIN ?? CLAUDE_BIN;
    const r = await this.run(bin, args, env, timeoutMs, `headless claude (${o.name})`);
    log(`${this.label}: headless ${o.name} exited ${r.code}`);
    return { ...r, standin, debugFile };
  }

  /** Start a headless run without waiting for it; returns a promise of its result. */
  startHeadless(o: SessionOptions & { prompt: string }, timeoutMs = 60_000): Promise<HeadlessResult> {
    return this.runHeadless(o, timeoutMs);
  }

  /** Write an --mcp-config file for a stdio server and return its path. */
  writeMcpConfig(name: string, command: string, args: string[], env?: Record<string, string>): string {
    const file = path.join(this.root, `mcp-${safe(name)}.json`);
    fs.writeFileSync(file, JSON.stringify({ mcpServers: { [name]: { command, args, ...(env ? { env } : {}) } } }, null, 2));
    return file;
  }

  /** Run the cc-dm CLI against this test's store. */
  ccdm(args: string[], timeoutMs = 30_000): Promise<RunResult> {
    return this.run(process.execPath, [CC_DM_BIN, ...args], this.baseEnv(), timeoutMs, `cc-dm ${args.join(' ')}`);
  }

  /** Stop every session, stand-in and child, and remove the temp root (unless CC_DM_E2E_KEEP=1). */
  async cleanup(failed = false): Promise<void> {
    for (const s of this.sessions) {
      try {
        await s.stop();
      } catch {
        /* ignore */
      }
    }
    spawnSync('tmux', ['-S', this.tmuxSocket, 'kill-server'], { stdio: 'ignore' });
    for (const c of this.children) c.kill('SIGKILL');
    for (const s of this.standins) await s.close().catch(() => {});
    if (failed || process.env.CC_DM_E2E_KEEP === '1') {
      this.standins.forEach((s, i) => {
        const dump = s.requests.map((r) => ({ seq: r.seq, at: r.at, path: r.path, body: r.body, reply: r.reply }));
        fs.writeFileSync(path.join(this.root, `requests-${i + 1}.json`), JSON.stringify(dump, null, 1));
      });
    }
    if (process.env.CC_DM_E2E_KEEP === '1' || (failed && process.env.CC_DM_E2E_KEEP_FAILED === '1')) {
      process.stderr.write(`[e2e] kept ${this.root}\n`);
      return;
    }
    fs.rmSync(this.root, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }
}

/**
 * Run `fn` with a fresh E2eEnv and always clean up. On failure, the env root can be kept with
 * CC_DM_E2E_KEEP_FAILED=1 for inspection.
 */
export async function withEnv<T>(label: string, fn: (env: E2eEnv) => Promise<T>, opts: EnvOptions = {}): Promise<T> {
  const env = await E2eEnv.create(label, opts);
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
