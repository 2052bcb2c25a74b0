// A small lab for the hook-path spike (issue 14): a throwaway Claude Code HOME with a test plugin
// (a local marketplace in the temp root) whose hooks are probe scripts, interactive sessions
// under tmux started WITHOUT any channel flag, and helpers to read what reached the model.
//
// Nothing here touches src/: the prototype stands on its own and is meant to be ported.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { E2eEnv, InteractiveSession, REPO_ROOT, SessionOptions, log } from '../claude.js';
import { ApiMessage, RecordedRequest, isMainLoopRequest, messageText } from '../standin.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The prototype's scripts (plain .mjs/.sh, not compiled): always read from the source tree. */
export const PROTO_DIR = path.join(REPO_ROOT, 'test', 'e2e', 'hooks-lab');
export const LAB_DIST_DIR = here;

export type HookHandler = {
  type: 'command';
  command: string;
  timeout?: number;
  async?: boolean;
  asyncRewake?: boolean;
  rewakeMessage?: string;
  rewakeSummary?: string;
  once?: boolean;
  statusMessage?: string;
};
export type HooksConfig = Record<string, { matcher?: string; hooks: HookHandler[] }[]>;

export interface PluginSpec {
  /** Plugin name (and marketplace name). */
  name: string;
  hooks: HooksConfig;
  /** Files to copy into the plugin folder: [source path, name inside the plugin]. */
  files?: [string, string][];
  mcpServers?: Record<string, unknown>;
}

/**
 * Install a test plugin from a local marketplace in the env's temp root. Its folder holds real
 * copies (no lockfile, no node_modules), so the install copies it as is.
 */
export async function installTestPlugin(env: E2eEnv, spec: PluginSpec): Promise<string> {
  const mkt = path.join(env.root, `mkt-${spec.name}`);
  const plug = path.join(mkt, 'plugin');
  fs.mkdirSync(path.join(mkt, '.claude-plugin'), { recursive: true });
  fs.mkdirSync(path.join(plug, '.claude-plugin'), { recursive: true });
  fs.mkdirSync(path.join(plug, 'hooks'), { recursive: true });
  fs.writeFileSync(
    path.join(mkt, '.claude-plugin', 'marketplace.json'),
    JSON.stringify({
      name: spec.name,
      owner: { name: 'spike' },
      plugins: [{ name: spec.name, source: './plugin', description: 'hooks spike', version: '0.0.1' }],
    }, null, 2),
  );
  fs.writeFileSync(
    path.join(plug, '.claude-plugin', 'plugin.json'),
    JSON.stringify({ name: spec.name, version: '0.0.1', description: 'hooks spike', ...(spec.mcpServers ? { mcpServers: spec.mcpServers } : {}) }, null, 2),
  );
  fs.writeFileSync(path.join(plug, 'hooks', 'hooks.json'), JSON.stringify({ description: 'spike', hooks: spec.hooks }, null, 2));
  for (const [src, name] of spec.files ?? []) {
    const dst = path.join(plug, name);
    fs.mkdirSync(path.dirname(dst), { recursive: true });
    fs.copyFileSync(src, dst);
    fs.chmodSync(dst, 0o755);
  }
  const add = await env.claudeCommand(['plugin', 'marketplace', 'add', mkt]);
  if (add.code !== 0) throw new Error(`marketplace add failed: ${add.stdout}${add.stderr}`);
  const inst = await env.claudeCommand(['plugin', 'install', `${spec.name}@${spec.name}`]);
  if (inst.code !== 0) throw new Error(`plugin install failed: ${inst.stdout}${inst.stderr}`);
  log(`${env.label}: test plugin ${spec.name} installed`);
  return plug;
}

/** Write HOME/.claude/settings.json (merged over what is there). */
export function writeUserSettings(env: E2eEnv, settings: Record<string, unknown>): void {
  const file = path.join(env.home, '.claude', 'settings.json');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  let cur: Record<string, unknown> = {};
  try {
    cur = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    /* none */
  }
  fs.writeFileSync(file, JSON.stringify({ ...cur, ...settings }, null, 2));
}

/** Start an interactive session without any channel flag. */
export function startPlain(env: E2eEnv, o: SessionOptions): Promise<InteractiveSession> {
  return env.startInteractive({ ...o, channels: false });
}

/** Main-loop requests of a stand-in from index `from`. */
export function mainRequests(rs: RecordedRequest[], from = 0): RecordedRequest[] {
  return rs.slice(from).filter(isMainLoopRequest);
}

/** The user-role blocks of the newest turn (after the last assistant message), as raw JSON. */
export function trailingUserContent(r: RecordedRequest): unknown[] {
  const ms = (r.body?.messages ?? []) as ApiMessage[];
  const out: unknown[] = [];
  for (let i = ms.length - 1; i >= 0 && ms[i].role === 'user'; i--) {
    const c = ms[i].content;
    out.unshift(...(typeof c === 'string' ? [{ type: 'text', text: c }] : c));
  }
  return out;
}

/** Index of the message (counted from 0) whose text includes `needle`, or -1. */
export function messageIndexOf(r: RecordedRequest, needle: string): number {
  const ms = (r.body?.messages ?? []) as ApiMessage[];
  return ms.findIndex((m) => messageText(m).includes(needle));
}

/** Read a JSONL file written by the probe hooks (missing file = []). */
export function readJsonl(file: string): any[] {
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      try {
        return JSON.parse(l);
      } catch {
        return { unparsed: l };
      }
    });
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function loadavg(): string {
  try {
    return fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return '?';
  }
}

export function summary(xs: number[]): { n: number; median: number; min: number; max: number } {
  return { n: xs.length, median: Math.round(median(xs)), min: Math.round(Math.min(...xs)), max: Math.round(Math.max(...xs)) };
}

/**
 * A scripted model that, for a user prompt containing `RUN-BUSY`, runs `steps` Bash tools one
 * after the other (`sleep <sec>` each), then ends its turn with "Busy done.". Anything else gets
 * "OK.". Woken turns (task notifications) get "OK." too.
 */
export function busyScript(sec = 3, steps = 1): import('../standin.js').Script {
  return (r) => {
    if (!isMainLoopRequest(r)) return { text: 'OK' };
    const ms = (r.body?.messages ?? []) as ApiMessage[];
    let idx = -1;
    ms.forEach((m, i) => {
      if (m.role === 'user' && /RUN-BUSY/.test(messageText(m)) && !/task-notification/.test(messageText(m))) idx = i;
    });
    if (idx < 0) return { text: 'OK.' };
    let uses = 0;
    for (const m of ms.slice(idx)) {
      if (m.role === 'assistant' && typeof m.content !== 'string') uses += m.content.filter((b) => b.type === 'tool_use').length;
    }
    // The newest user message (system-role messages carrying hook context come after it).
    const last = [...ms].reverse().find((m) => m.role !== ('system' as string));
    const lastIsToolResult = last?.role === 'user' && typeof last.content !== 'string' && last.content.some((b) => b.type === 'tool_result');
    if (uses === 0 || (lastIsToolResult && uses < steps)) {
      return { toolUse: { name: 'Bash', input: { command: `sleep ${sec}`, description: `sleep ${sec} (step ${uses + 1})` } } };
    }
    if (lastIsToolResult || uses >= steps) return { text: 'Busy done.' };
    return { text: 'OK.' };
  };
}
