// Harness for end-to-end tests with the real Gemini CLI (0.61.0), offline.
//
// Per test: a temp root with a throwaway HOME whose `~/.gemini/settings.json` selects API-key
// auth, turns off telemetry, update checks and folder trust prompts, configures cc-dm (and
// optionally the probe MCP server) in `mcpServers` with `trust: true`, and the probe hook for the
// chosen hook events; a Gemini API stand-in reached through `GOOGLE_GEMINI_BASE_URL`. Sessions run
// headless (`gemini -p ...`) or interactively under a private tmux server.
//
// Every wait is bounded; nothing sleeps a fixed time.

import fs from 'node:fs';
import path from 'node:path';
import { ensureGemini, InstalledCli } from './agent-clis.js';
import {
  CC_DM_BIN, PROBE_HOOK, PROBE_MCP, RunResult, TempRoot, TmuxSession, log, readText, startTmux, tail, withRoot,
} from './harness-common.js';
import { GeminiScript, GeminiStandin, defaultGeminiScript, startGeminiStandin } from './standin-gemini.js';

export const GEMINI_API_KEY = 'ccdm-e2e-dummy-gemini-key';

/** Hook events of Gemini CLI 0.61.0. */
export const GEMINI_HOOK_EVENTS = [
  'SessionStart', 'BeforeAgent', 'BeforeModel', 'BeforeToolSelection', 'BeforeTool', 'AfterTool', 'AfterModel', 'AfterAgent', 'Notification', 'PreCompress', 'SessionEnd',
] as const;
export type GeminiHookEvent = (typeof GEMINI_HOOK_EVENTS)[number];

export interface GeminiEnvOptions {
  ccdmHome?: string;
  script?: GeminiScript;
  /** Name of cc-dm in `mcpServers` (default "cc-dm"); false: none. */
  ccdmServer?: string | false;
  /** CC_DM_SESSION_NAME in cc-dm's `env` (else it comes from the launch environment). */
  sessionName?: string;
  probe?: boolean;
  /** Hook events to install the probe hook for (default: the ones cc-dm would use). */
  hooks?: GeminiHookEvent[] | false;
  /** Extra settings merged over the defaults (shallow per top-level key). */
  settings?: Record<string, any>;
}

export interface GeminiSessionOptions {
  name: string;
  env?: Record<string, string>;
  extraArgs?: string[];
}

export interface GeminiInteractive extends TmuxSession {
  stderrFile: string;
  ready(timeoutMs?: number): Promise<void>;
  describe(): string;
}

let installed: Promise<InstalledCli> | undefined;
export function geminiCli(): Promise<InstalledCli> {
  installed ??= ensureGemini();
  return installed;
}

export class GeminiEnv extends TempRoot {
  standin!: GeminiStandin;
  cli!: InstalledCli;
  private opts: GeminiEnvOptions;
  private sessions: GeminiInteractive[] = [];

  private constructor(label: string, opts: GeminiEnvOptions) {
    super(label, { ccdmHome: opts.ccdmHome });
    this.opts = opts;
    fs.mkdirSync(path.join(this.home, '.gemini'), { recursive: true });
  }

  static async create(label: string, opts: GeminiEnvOptions = {}): Promise<GeminiEnv> {
    const env = new GeminiEnv(label, opts);
    try {
      env.cli = await geminiCli();
      env.standin = await startGeminiStandin(opts.script ?? defaultGeminiScript, `${label}: gemini stand-in`);
      env.onCleanup(() => env.standin.close());
      env.onCleanup(() => env.dumpRequests());
      env.writeSettings();
    } catch (err) {
      await env.cleanup(true);
      throw err;
    }
    return env;
  }

  get settingsFile(): string {
    return path.join(this.home, '.gemini', 'settings.json');
  }

  get ccdmServerName(): string | undefined {
    return this.opts.ccdmServer === false ? undefined : this.opts.ccdmServer ?? 'cc-dm';
  }

  hookCommand(label: string): string {
    return `${process.execPath} ${PROBE_HOOK} ${this.probeDir} ${label}`;
  }

  settings(): Record<string, any> {
    const mcpServers: Record<string, unknown> = {};
    const name = this.ccdmServerName;
    if (name) {
      const env: Record<string, string> = { CC_DM_HOME: this.ccdmHome };
      if (this.opts.sessionName) env.CC_DM_SESSION_NAME = this.opts.sessionName;
      mcpServers[name] = { command: process.execPath, args: [CC_DM_BIN, 'serve'], env, trust: true, timeout: 30_000 };
    }
    if (this.opts.probe) {
      mcpServers.probe = { command: process.execPath, args: [PROBE_MCP], env: { PROBE_MCP_LOG: path.join(this.probeDir, 'mcp.jsonl') }, trust: true };
    }
    const events = this.opts.hooks === false ? [] : this.opts.hooks ?? ['SessionStart', 'BeforeAgent', 'AfterTool', 'AfterAgent', 'SessionEnd'];
    const hooks: Record<string, unknown> = {};
    for (const e of events) hooks[e] = [{ hooks: [{ type: 'command', name: `probe-${e}`, command: this.hookCommand(e), timeout: 30_000 }] }];
    const base: Record<string, any> = {
      security: { auth: { selectedType: 'gemini-api-key' }, folderTrust: { enabled: false } },
      general: { disableAutoUpdate: true, disableUpdateNag: true, enableAutoUpdate: false, enableAutoUpdateNotification: false },
      privacy: { usageStatisticsEnabled: false },
      telemetry: { enabled: false },
      ui: { hideTips: true, hideBanner: true },
      mcpServers,
      hooks,
    };
    for (const [k, v] of Object.entries(this.opts.settings ?? {})) {
      base[k] = typeof v === 'object' && v && !Array.isArray(v) && typeof base[k] === 'object' ? { ...base[k], ...v } : v;
    }
    return base;
  }

  writeSettings(): void {
    fs.writeFileSync(this.settingsFile, JSON.stringify(this.settings(), null, 2) + '\n');
  }

  baseEnv(extra: Record<string, string> = {}): Record<string, string> {
    return {
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      HOME: this.home,
      USER: process.env.USER ?? 'root',
      SHELL: '/bin/bash',
      TERM: 'xterm-256color',
      COLORTERM: 'truecolor',
      LANG: 'C.UTF-8',
      TMPDIR: process.env.TMPDIR ?? '/tmp',
      GEMINI_API_KEY,
      GOOGLE_GEMINI_BASE_URL: this.standin.url,
      GEMINI_CLI_NO_RELAUNCH: 'true',
      CC_DM_HOME: this.ccdmHome,
      ...extra,
    };
  }

  gemini(args: string[], opts: { env?: Record<string, string>; timeoutMs?: number; input?: string } = {}): Promise<RunResult> {
    return this.run(process.execPath, [this.cli.bin, ...args], this.baseEnv(opts.env), opts.timeoutMs ?? 90_000, `gemini ${args.slice(0, 2).join(' ')}`, this.cwd, opts.input);
  }

  /** `gemini -p <prompt>` (headless, yolo so MCP tools run without prompts). */
  headless(prompt: string, o: Partial<GeminiSessionOptions> & { timeoutMs?: number } = {}): Promise<RunResult> {
    log(`${this.label}: gemini -p`);
    return this.gemini(['-p', prompt, '--approval-mode', 'yolo', ...(o.extraArgs ?? [])], { env: o.env, timeoutMs: o.timeoutMs });
  }

  async startInteractive(o: GeminiSessionOptions): Promise<GeminiInteractive> {
    const stderrFile = path.join(this.root, `stderr-${o.name}.log`);
    const args = [this.cli.bin, '--approval-mode', 'yolo', ...(o.extraArgs ?? [])];
    const launcher = this.writeLauncher(o.name, this.baseEnv(o.env), process.execPath, args, stderrFile);
    log(`${this.label}: starting gemini TUI ${o.name}`);
    const t = startTmux(this, o.name, launcher, stderrFile);
    const s: GeminiInteractive = Object.assign(t, {
      stderrFile,
      async ready(timeoutMs = 60_000) {
        await t.waitForScreen(/Type your message/i, 'the input prompt', timeoutMs);
      },
      describe() {
        return `--- ${o.name}: screen ---\n${tail(t.screen(), 30)}\n--- ${o.name}: stderr ---\n${tail(readText(stderrFile), 15)}`;
      },
    });
    this.sessions.push(s);
    return s;
  }

  private dumpRequests(): void {
    if (process.env.CC_DM_E2E_KEEP !== '1' && process.env.CC_DM_E2E_KEEP_FAILED !== '1') return;
    const dump = this.standin.requests.map((r) => ({ seq: r.seq, at: r.at, path: r.path, headers: r.headers, body: r.body, reply: r.reply }));
    fs.writeFileSync(path.join(this.root, 'requests.json'), JSON.stringify(dump, null, 1));
  }

  async cleanup(failed = false): Promise<void> {
    for (const s of this.sessions) await s.stop(['C-c', 'C-c']).catch(() => undefined);
    await super.cleanup(failed);
  }
}

export function withGemini<T>(label: string, opts: GeminiEnvOptions, fn: (env: GeminiEnv) => Promise<T>): Promise<T> {
  return withRoot(() => GeminiEnv.create(label, opts), fn);
}
