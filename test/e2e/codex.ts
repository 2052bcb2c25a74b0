// Harness for end-to-end tests with the real Codex CLI (0.171.0), offline.
//
// Per test: a temp root with a throwaway HOME and CODEX_HOME, a Responses API stand-in, and a
// config.toml pointing Codex at it (`model_provider` + `[model_providers.standin]`), cc-dm (and
// optionally the probe MCP server) as MCP servers, hooks in `$CODEX_HOME/hooks.json` marked as
// trusted the way Codex records it (`[hooks.state."<key>"] trusted_hash`, from the app-server's
// `hooks/list`). Sessions run headless (`codex exec`) or interactively under a private tmux
// server, either in-process (`--no-daemon`) or through the shared app-server daemon that the TUI
// starts by itself (the daemon copies the whole Codex package, ~424 MB, into
// `$CODEX_HOME/packages/` on first use: only the daemon tests pay that).
//
// Every wait is bounded; nothing sleeps a fixed time.

import { spawn } from 'node:child_process';
import net from 'node:net';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ensureCodex, InstalledCli } from './agent-clis.js';
import {
  CC_DM_BIN, DEFAULT_TIMEOUT, PROBE_HOOK, PROBE_MCP, RunResult, TempRoot, TmuxSession, log, readText, startTmux, tail,
  tomlStr, waitUntil, withRoot,
} from './harness-common.js';
import { ResponsesScript, ResponsesStandin, defaultResponsesScript, startResponsesStandin } from './standin-responses.js';
import { pidAlive } from './proc.js';

export const CODEX_MODEL = 'gpt-standin';

/** Hook events of Codex's hooks.json (Claude Code's names). */
export const CODEX_HOOK_EVENTS = ['SessionStart', 'UserPromptSubmit', 'PreToolUse', 'PostToolUse', 'Stop', 'SessionEnd'] as const;
export type CodexHookEvent = (typeof CODEX_HOOK_EVENTS)[number] | string;

export interface McpEntry {
  command: string;
  args: string[];
  env?: Record<string, string>;
  /** Names of launch-environment variables to forward (Codex's `env_vars`). */
  envVars?: string[];
  required?: boolean;
  approve?: boolean;
  startupTimeoutSec?: number;
}

export interface CodexEnvOptions {
  /** Share a CC_DM_HOME with other environments of the same test (default: its own). */
  ccdmHome?: string;
  /** The stand-in's script. */
  script?: ResponsesScript;
  /** Name for cc-dm in `[mcp_servers.<name>]` (default "cc-dm"); false: no cc-dm server. */
  ccdmServer?: string | false;
  /** CC_DM_SESSION_NAME put in cc-dm's `env` table (the config-wide name). */
  sessionName?: string;
  /** Add the probe MCP server (`[mcp_servers.probe]`, logging to <probeDir>/mcp.jsonl). */
  probe?: boolean;
  /** Hooks to install: event -> label of the probe hook (default: every event, label = event). */
  hooks?: CodexHookEvent[] | false;
  /** Record trust for the hooks (default true). */
  trustHooks?: boolean;
  /** Extra TOML appended to config.toml. */
  extraToml?: string;
}

export interface CodexSessionOptions {
  name: string;
  /** Extra launch environment. */
  env?: Record<string, string>;
  /** `-c key=value` overrides (note: any override makes the TUI run in-process, without the daemon). */
  overrides?: string[];
  extraArgs?: string[];
}

export interface CodexInteractive extends TmuxSession {
  stderrFile: string;
  /** Waits until the composer is drawn and MCP servers are ready. */
  ready(timeoutMs?: number): Promise<void>;
  describe(): string;
}

let installed: Promise<InstalledCli> | undefined;
/** The pinned Codex CLI, installed into the cache on first use. */
export function codexCli(): Promise<InstalledCli> {
  installed ??= ensureCodex();
  return installed;
}

export class CodexEnv extends TempRoot {
  readonly codexHome: string;
  standin!: ResponsesStandin;
  cli!: InstalledCli;
  private opts: CodexEnvOptions;
  private sessions: CodexInteractive[] = [];
  private daemonUsed = false;

  private constructor(label: string, opts: CodexEnvOptions) {
    super(label, { ccdmHome: opts.ccdmHome });
    this.opts = opts;
    this.codexHome = path.join(this.root, 'codex');
    fs.mkdirSync(this.codexHome, { recursive: true });
  }

  static async create(label: string, opts: CodexEnvOptions = {}): Promise<CodexEnv> {
    const env = new CodexEnv(label, opts);
    try {
      env.cli = await codexCli();
      env.standin = await startResponsesStandin(opts.script ?? defaultResponsesScript, `${label}: responses stand-in`);
      env.onCleanup(() => env.standin.close());
      env.onCleanup(() => env.dumpRequests());
      env.writeHooks();
      env.writeConfig();
      if (opts.hooks !== false && opts.trustHooks !== false) await env.trustHooks();
    } catch (err) {
      await env.cleanup(true);
      throw err;
    }
    return env;
  }

  get configFile(): string {
    return path.join(this.codexHome, 'config.toml');
  }

  /** The MCP server name of cc-dm (its tools are in the namespace `mcp__<name>`). */
  get ccdmServerName(): string | undefined {
    return this.opts.ccdmServer === false ? undefined : this.opts.ccdmServer ?? 'cc-dm';
  }

  /** Hook command for an event: the probe hook with the event as label. */
  hookCommand(label: string): string {
    return `${process.execPath} ${PROBE_HOOK} ${this.probeDir} ${label}`;
  }

  writeHooks(): void {
    const events = this.opts.hooks === false ? [] : this.opts.hooks ?? [...CODEX_HOOK_EVENTS];
    const hooks: Record<string, unknown> = {};
    for (const e of events) hooks[e] = [{ hooks: [{ type: 'command', command: this.hookCommand(e) }] }];
    fs.writeFileSync(path.join(this.codexHome, 'hooks.json'), JSON.stringify({ hooks }, null, 2) + '\n');
  }

  mcpToml(name: string, e: McpEntry): string {
    const lines = [`[mcp_servers.${tomlStr(name)}]`, `command = ${tomlStr(e.command)}`, `args = [${e.args.map(tomlStr).join(', ')}]`];
    if (e.env && Object.keys(e.env).length) lines.push(`env = { ${Object.entries(e.env).map(([k, v]) => `${k} = ${tomlStr(v)}`).join(', ')} }`);
    if (e.envVars?.length) lines.push(`env_vars = [${e.envVars.map(tomlStr).join(', ')}]`);
    lines.push(`required = ${e.required ?? true}`);
    if (e.approve ?? true) lines.push('default_tools_approval_mode = "approve"');
    lines.push(`startup_timeout_sec = ${e.startupTimeoutSec ?? 30}`);
    return lines.join('\n') + '\n';
  }

  writeConfig(): void {
    const toml: string[] = [
      `model = ${tomlStr(CODEX_MODEL)}`,
      'model_provider = "standin"',
      'approval_policy = "never"',
      'sandbox_mode = "danger-full-access"',
      'check_for_update_on_startup = false',
      // Typed text followed at once by Enter would otherwise count as a paste (Enter = newline).
      'disable_paste_burst = true',
      '',
      '[analytics]',
      'enabled = false',
      '',
      '[model_providers.standin]',
      'name = "standin"',
      `base_url = ${tomlStr(this.standin.baseUrl)}`,
      'wire_api = "responses"',
      // Fail fast instead of five retries when a test's stand-in answers with an error.
      'request_max_retries = 0',
      'stream_max_retries = 0',
      '',
      `[projects.${tomlStr(this.cwd)}]`,
      'trust_level = "trusted"',
      '',
    ];
    const name = this.ccdmServerName;
    if (name) {
      const env: Record<string, string> = { CC_DM_HOME: this.ccdmHome };
      if (this.opts.sessionName) env.CC_DM_SESSION_NAME = this.opts.sessionName;
      toml.push(this.mcpToml(name, { command: process.execPath, args: [CC_DM_BIN, 'serve'], env }));
    }
    if (this.opts.probe) {
      toml.push(this.mcpToml('probe', { command: process.execPath, args: [PROBE_MCP], env: { PROBE_MCP_LOG: path.join(this.probeDir, 'mcp.jsonl') } }));
    }
    if (this.opts.extraToml) toml.push(this.opts.extraToml);
    fs.writeFileSync(this.configFile, toml.join('\n'));
  }

  /** Environment for every Codex process of this test. */
  baseEnv(extra: Record<string, string> = {}): Record<string, string> {
    return {
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      HOME: this.home,
      CODEX_HOME: this.codexHome,
      USER: process.env.USER ?? 'root',
      SHELL: '/bin/bash',
      TERM: 'xterm-256color',
      LANG: 'C.UTF-8',
      TMPDIR: process.env.TMPDIR ?? '/tmp',
      CC_DM_HOME: this.ccdmHome,
      ...extra,
    };
  }

  /** Runs a codex subcommand (bounded). */
  codex(args: string[], opts: { env?: Record<string, string>; timeoutMs?: number; input?: string } = {}): Promise<RunResult> {
    return this.run(process.execPath, [this.cli.bin, ...args], this.baseEnv(opts.env), opts.timeoutMs ?? 60_000, `codex ${args.slice(0, 3).join(' ')}`, this.cwd, opts.input);
  }

  /** Calls the app-server over stdio: initialize, then each [method, params]; returns the results. */
  async appServer(calls: [string, unknown][], timeoutMs = 30_000): Promise<any[]> {
    const child = spawn(process.execPath, [this.cli.bin, 'app-server'], { cwd: this.cwd, env: this.baseEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    this.children.add(child);
    let buf = '';
    let stderr = '';
    const pending = new Map<number, (m: any) => void>();
    child.stdout!.on('data', (d) => {
      buf += d;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        let m: any;
        try {
          m = JSON.parse(line);
        } catch {
          continue;
        }
        if (m.id !== undefined && pending.has(m.id)) {
          pending.get(m.id)!(m);
          pending.delete(m.id);
        }
      }
    });
    child.stderr!.on('data', (d) => (stderr += d));
    let id = 0;
    const call = (method: string, params: unknown) =>
      new Promise<any>((resolve, reject) => {
        const n = ++id;
        const timer = setTimeout(() => reject(new Error(`codex app-server: no answer to ${method} within ${timeoutMs} ms; stderr: ${tail(stderr, 10)}`)), timeoutMs);
        pending.set(n, (m) => {
          clearTimeout(timer);
          if (m.error) reject(new Error(`codex app-server ${method}: ${JSON.stringify(m.error)}`));
          else resolve(m.result);
        });
        child.stdin!.write(JSON.stringify({ jsonrpc: '2.0', id: n, method, params }) + '\n');
      });
    try {
      await call('initialize', { clientInfo: { name: 'cc-dm-e2e', version: '0' }, capabilities: { experimentalApi: true } });
      child.stdin!.write(JSON.stringify({ jsonrpc: '2.0', method: 'initialized' }) + '\n');
      const out: any[] = [];
      for (const [m, p] of calls) out.push(await call(m, p));
      return out;
    } finally {
      child.stdin!.end();
      child.kill('SIGTERM');
      this.children.delete(child);
    }
  }

  /** The hooks Codex sees for this cwd (app-server `hooks/list`). */
  async listHooks(): Promise<any[]> {
    const [res] = await this.appServer([['hooks/list', { cwds: [this.cwd] }]]);
    return res?.data?.[0]?.hooks ?? [];
  }

  /**
   * Records trust for every hook: `[hooks.state."<key>"] trusted_hash = "<currentHash>"` in
   * config.toml, with key and hash from `hooks/list` (what the TUI's review dialog writes).
   */
  async trustHooks(): Promise<any[]> {
    const hooks = await this.listHooks();
    const lines: string[] = [''];
    for (const h of hooks) {
      if (h.trustStatus === 'trusted' || h.isManaged) continue;
      lines.push(`[hooks.state.${tomlStr(h.key)}]`, `trusted_hash = ${tomlStr(h.currentHash)}`, '');
    }
    fs.appendFileSync(this.configFile, lines.join('\n'));
    const after = await this.listHooks();
    const untrusted = after.filter((h) => h.trustStatus !== 'trusted' && !h.isManaged);
    if (untrusted.length) throw new Error(`hooks still untrusted after recording trust: ${untrusted.map((h) => h.key).join(', ')}`);
    return after;
  }

  /** `codex exec` (headless): resolves when it exits. */
  exec(prompt: string, o: Partial<CodexSessionOptions> & { timeoutMs?: number; json?: boolean } = {}): Promise<RunResult> {
    const args = ['exec', '--skip-git-repo-check'];
    if (o.json) args.push('--json');
    for (const c of o.overrides ?? []) args.push('-c', c);
    args.push(...(o.extraArgs ?? []), prompt);
    log(`${this.label}: codex exec`);
    return this.codex(args, { env: o.env, timeoutMs: o.timeoutMs ?? 90_000 });
  }

  /**
   * An interactive Codex TUI under tmux. `daemon: false` (default) passes `--no-daemon` (the TUI
   * runs its agent in-process); `daemon: true` lets it use (and start) the shared app-server
   * daemon of this CODEX_HOME.
   */
  async startInteractive(o: CodexSessionOptions & { daemon?: boolean }): Promise<CodexInteractive> {
    const stderrFile = path.join(this.root, `stderr-${o.name}.log`);
    const args = [this.cli.bin];
    if (!o.daemon) args.push('--no-daemon');
    for (const c of o.overrides ?? []) args.push('-c', c);
    args.push(...(o.extraArgs ?? []));
    if (o.daemon) this.daemonUsed = true;
    const launcher = this.writeLauncher(o.name, this.baseEnv(o.env), process.execPath, args, stderrFile);
    log(`${this.label}: starting codex TUI ${o.name}${o.daemon ? ' (daemon)' : ''}`);
    const t = startTmux(this, o.name, launcher, stderrFile);
    const s: CodexInteractive = Object.assign(t, {
      stderrFile,
      async ready(timeoutMs = 60_000) {
        // The footer with the model name appears once the thread is configured (the daemon, when
        // used, is up); before that, typed text stays in the composer.
        await t.waitForScreen(new RegExp(`${CODEX_MODEL} .*·`), 'the composer footer (thread ready)', timeoutMs);
        // MCP servers start with the thread; the screen says "Booting MCP server" until they are up.
        await waitUntil(() => !/Booting MCP|Starting MCP/i.test(t.screen()) || undefined, `${o.name}: MCP servers to start`, timeoutMs, () => tail(t.screen(), 20));
      },
      describe() {
        return `--- ${o.name}: screen ---\n${tail(t.screen(), 30)}\n--- ${o.name}: stderr ---\n${tail(readText(stderrFile), 15)}`;
      },
    });
    this.sessions.push(s);
    return s;
  }

  /**
   * Calls the running daemon over its control socket
   * (`$CODEX_HOME/app-server-control/app-server-control.sock`): the app-server protocol as
   * JSON-RPC in WebSocket text frames over the Unix socket (a plain JSON line gets no answer).
   * initialize + initialized, then each [method, params]; returns the results. Bounded.
   */
  async daemonRpc(calls: [string, unknown][], timeoutMs = 10_000): Promise<any[]> {
    const sock = path.join(this.codexHome, 'app-server-control', 'app-server-control.sock');
    const c = net.createConnection(sock);
    const deadline = Date.now() + timeoutMs;
    try {
      await new Promise<void>((resolve, reject) => {
        c.once('connect', () => resolve());
        c.once('error', reject);
      });
      const key = crypto.randomBytes(16).toString('base64');
      c.write(`GET /rpc HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
      let buf = Buffer.alloc(0);
      let upgraded = false;
      const msgs: any[] = [];
      c.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        if (!upgraded) {
          const i = buf.indexOf('\r\n\r\n');
          if (i < 0) return;
          if (!/ 101 /.test(buf.subarray(0, i).toString().split('\r\n')[0])) throw new Error(`daemon socket refused the upgrade: ${buf.subarray(0, i)}`);
          upgraded = true;
          buf = buf.subarray(i + 4);
        }
        for (;;) {
          if (buf.length < 2) break;
          let len = buf[1] & 127;
          let off = 2;
          if (len === 126) {
            len = buf.readUInt16BE(2);
            off = 4;
          } else if (len === 127) {
            len = Number(buf.readBigUInt64BE(2));
            off = 10;
          }
          if (buf.length < off + len) break;
          const op = buf[0] & 15;
          const payload = buf.subarray(off, off + len);
          buf = buf.subarray(off + len);
          if (op === 1) msgs.push(JSON.parse(payload.toString()));
        }
      });
      const send = (obj: unknown) => {
        const p = Buffer.from(JSON.stringify(obj));
        const mask = crypto.randomBytes(4);
        let h: Buffer;
        if (p.length < 126) h = Buffer.from([0x81, 0x80 | p.length]);
        else if (p.length < 65536) {
          h = Buffer.alloc(4);
          h[0] = 0x81;
          h[1] = 0x80 | 126;
          h.writeUInt16BE(p.length, 2);
        } else throw new Error('frame too large');
        c.write(Buffer.concat([h, mask, Buffer.from(p.map((b, i) => b ^ mask[i % 4]))]));
      };
      const answer = (id: number, what: string) =>
        waitUntil(() => msgs.find((m) => m.id === id), `the daemon's answer to ${what}`, Math.max(1, deadline - Date.now()));
      await waitUntil(() => upgraded || undefined, 'the daemon socket upgrade', Math.max(1, deadline - Date.now()));
      let id = 0;
      send({ jsonrpc: '2.0', id: ++id, method: 'initialize', params: { clientInfo: { name: 'cc-dm-e2e', version: '0' }, capabilities: { experimentalApi: true } } });
      await answer(id, 'initialize');
      send({ jsonrpc: '2.0', method: 'initialized' });
      const out: any[] = [];
      for (const [method, params] of calls) {
        send({ jsonrpc: '2.0', id: ++id, method, params });
        const m = await answer(id, method);
        if (m.error) throw new Error(`daemon ${method}: ${JSON.stringify(m.error)}`);
        out.push(m.result);
      }
      return out;
    } finally {
      c.destroy();
    }
  }

  /** pid of the app-server daemon of this CODEX_HOME, if one is running. */
  daemonPid(): number | undefined {
    try {
      const pid = JSON.parse(readText(path.join(this.codexHome, 'app-server-daemon', 'daemon.pid'))).pid;
      return typeof pid === 'number' && pidAlive(pid) ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  updaterPid(): number | undefined {
    try {
      const pid = JSON.parse(readText(path.join(this.codexHome, 'app-server-daemon', 'daemon-updater.pid'))).pid;
      return typeof pid === 'number' && pidAlive(pid) ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  /** `codex queue --thread <id> --message <text>`. */
  queue(thread: string, message: string, extra: string[] = []): Promise<RunResult> {
    return this.codex(['queue', '--thread', thread, '--message', message, ...extra], { timeoutMs: 30_000 });
  }

  private dumpRequests(): void {
    if (process.env.CC_DM_E2E_KEEP !== '1' && process.env.CC_DM_E2E_KEEP_FAILED !== '1') return;
    const dump = this.standin.requests.map((r) => ({ seq: r.seq, at: r.at, path: r.path, headers: r.headers, body: r.body, reply: r.reply }));
    fs.writeFileSync(path.join(this.root, 'requests.json'), JSON.stringify(dump, null, 1));
  }

  async cleanup(failed = false): Promise<void> {
    for (const s of this.sessions) await s.stop().catch(() => undefined);
    if (this.daemonUsed) {
      // The daemon and its updater loop outlive the TUIs (they are reparented to init): stop them.
      const d = this.daemonPid();
      const u = this.updaterPid();
      await this.codex(['app-server', 'daemon', 'stop'], { timeoutMs: 15_000 }).catch(() => undefined);
      if (d) this.endAtCleanup(d);
      if (u) this.endAtCleanup(u);
    }
    await super.cleanup(failed);
  }
}

export function withCodex<T>(label: string, opts: CodexEnvOptions, fn: (env: CodexEnv) => Promise<T>): Promise<T> {
  return withRoot(() => CodexEnv.create(label, opts), fn);
}

export { DEFAULT_TIMEOUT };
