/**
 * `cc-dm setup gemini`: registers cc-dm with Gemini CLI (measured with 0.61.0:
 * test/e2e/AGENT-CLIS.md), in its user settings (`~/.gemini/settings.json`, or under
 * $GEMINI_CLI_HOME):
 *
 * - `mcpServers["cc-dm"]`: the server as `node <flags> <package>/bin/cc-dm.js serve` (the plugin's
 *   flags: src/launch.ts), `trust: true`
 *   (without it, `gemini -p` does not even offer the tools), the store's folder in `env`. Gemini CLI
 *   passes its launch environment to the server, so `CC_DM_SESSION_NAME=alice gemini` names it.
 * - `hooks`: `cc-dm hook gemini` on SessionStart, BeforeAgent, AfterTool, AfterAgent, Notification
 *   and SessionEnd, after the user's own.
 * - the two settings that let a background `cc-dm wait` wake an idle session,
 *   `experimental.modelSteering: true` and `tools.shell.backgroundCompletionBehavior: "inject"`,
 *   where the user has not set them (a value of theirs is kept, and the result says what it costs).
 *
 * settings.json may hold comments, which a JSON rewrite would lose: setup then stops and says so,
 * unless --force (a copy of the file is kept beside it). What setup added is recorded, so --undo
 * removes exactly that.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CcDmError } from '../../errors.js';
import { SERVER_NODE_FLAGS } from '../../launch.js';
import { shellWord } from '../../delivery/hook-main.js';
import { stripJsonComments } from '../../delivery/gemini-hooks.js';
import { PACKAGE_ROOT, npxNotes, type HostSetup, type SetupContext, type SetupResult } from './common.js';

export interface GeminiRecord {
  file: string;
  existed: boolean;
  server: string;
  /** Settings setup set because they were absent (dotted paths), with the value it set. */
  added: { path: string; value: unknown }[];
  /** Top-level keys that were absent before setup (an object setup made and left empty is removed on undo). */
  absentKeys: string[];
}

const SERVER = 'cc-dm';
/** The events cc-dm's hook handles (src/delivery/gemini-hooks.ts). */
export const GEMINI_EVENTS = ['SessionStart', 'BeforeAgent', 'AfterTool', 'AfterAgent', 'Notification', 'SessionEnd'] as const;
/** What a background `cc-dm wait` needs to wake an idle session. */
export const GEMINI_WAKE_SETTINGS: { path: string; value: unknown }[] = [
  { path: 'experimental.modelSteering', value: true },
  { path: 'tools.shell.backgroundCompletionBehavior', value: 'inject' },
];

const BIN = () => join(PACKAGE_ROOT, 'bin', 'cc-dm.js');

export function geminiHookCommand(home: string): string {
  return `CC_DM_HOME=${shellWord(home)} ${shellWord(process.execPath)} ${shellWord(BIN())} hook gemini`;
}

const isOurs = (h: any) => typeof h?.command === 'string' && /\bhook gemini$/.test(h.command) && /cc-dm/.test(h.command);

function get(obj: Record<string, any>, path: string): unknown {
  return path.split('.').reduce<any>((o, k) => (o && typeof o === 'object' ? o[k] : undefined), obj);
}

function set(obj: Record<string, any>, path: string, value: unknown): void {
  const keys = path.split('.');
  let o = obj;
  for (const k of keys.slice(0, -1)) {
    if (!o[k] || typeof o[k] !== 'object') o[k] = {};
    o = o[k];
  }
  o[keys[keys.length - 1]!] = value;
}

/** Removes a setting, and the objects on its path left empty by that. */
function unset(obj: Record<string, any>, path: string): void {
  const keys = path.split('.');
  const chain: Record<string, any>[] = [obj];
  for (const k of keys.slice(0, -1)) {
    const next = chain[chain.length - 1]![k];
    if (!next || typeof next !== 'object') return;
    chain.push(next);
  }
  delete chain[chain.length - 1]![keys[keys.length - 1]!];
  for (let i = chain.length - 1; i > 0; i--) {
    if (Object.keys(chain[i]!).length) break;
    delete chain[i - 1]![keys[i - 1]!];
  }
}

function writeAtomic(file: string, data: Record<string, any>): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(`${file}.cc-dm-tmp`, JSON.stringify(data, null, 2) + '\n');
  renameSync(`${file}.cc-dm-tmp`, file);
}

function read(file: string, force: boolean, say: (l: string) => void): { data: Record<string, any>; text: string } {
  if (!existsSync(file)) return { data: {}, text: '' };
  const text = readFileSync(file, 'utf8');
  const plain = stripJsonComments(text);
  let data: unknown;
  try {
    data = JSON.parse(plain.trim() === '' ? '{}' : plain);
  } catch (e) {
    throw new CcDmError('E_INVALID', `${file} is not valid JSON (${(e as Error).message}): fix it and run cc-dm setup gemini again.`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data))
    throw new CcDmError('E_INVALID', `${file} does not hold a JSON object: fix it and run cc-dm setup gemini again.`);
  if (plain !== text && !force)
    throw new CcDmError(
      'E_INVALID',
      `${file} has comments, which cc-dm would lose when it writes the file. Run cc-dm setup gemini --force to write it anyway (a copy is kept as ${file}.cc-dm-backup), or add cc-dm's entries yourself (README, "Gemini CLI").`,
    );
  if (plain !== text) {
    copyFileSync(file, `${file}.cc-dm-backup`);
    say(`  kept a copy of ${file} with its comments: ${file}.cc-dm-backup`);
  }
  return { data: data as Record<string, any>, text };
}

export const geminiSetup: HostSetup<GeminiRecord> = {
  host: 'gemini',
  title: 'Gemini CLI',
  launchTitle: 'Start Gemini CLI with a name for its session:',
  present: (ctx) => existsSync(ctx.cfg.geminiDir) || spawnSync('gemini', ['--version'], { stdio: 'ignore', timeout: 60_000 }).status === 0,

  async setup(ctx: SetupContext, previous) {
    const { cfg } = ctx;
    const file = join(cfg.geminiDir, 'settings.json');
    const { data, text } = read(file, ctx.force, ctx.say);
    const record: GeminiRecord = previous ?? {
      file,
      existed: existsSync(file),
      server: SERVER,
      added: [],
      absentKeys: ['mcpServers', 'hooks', 'experimental', 'tools'].filter((k) => !(k in data)),
    };
    const result: SetupResult = {
      host: 'gemini',
      changed: [],
      kept: [],
      launch: ['CC_DM_SESSION_NAME=alice gemini'],
      notes: [],
    };
    const servers = (data.mcpServers && typeof data.mcpServers === 'object' ? data.mcpServers : {}) as Record<string, any>;
    const existing = servers[SERVER];
    if (existing && !previous && !ctx.force)
      throw new CcDmError(
        'E_NAME_TAKEN',
        `${file} already has an MCP server named "${SERVER}" that cc-dm setup did not add (another install of cc-dm?). Run cc-dm setup gemini --force to replace it, or remove it yourself.`,
      );
    servers[SERVER] = {
      command: process.execPath,
      args: [...SERVER_NODE_FLAGS, BIN(), 'serve'],
      env: { CC_DM_HOME: cfg.home },
      trust: true,
      timeout: 30_000,
    };
    data.mcpServers = servers;
    (JSON.stringify(existing) === JSON.stringify(servers[SERVER]) ? result.kept : result.changed).push(`MCP server "${SERVER}" in ${file}`);

    const command = geminiHookCommand(cfg.home);
    const hooks = (data.hooks && typeof data.hooks === 'object' ? data.hooks : {}) as Record<string, any[]>;
    let hooksChanged = false;
    for (const event of GEMINI_EVENTS) {
      const groups: any[] = Array.isArray(hooks[event]) ? hooks[event]! : [];
      const group = { hooks: [{ type: 'command', name: 'cc-dm', command, timeout: 30_000 }] };
      const at = groups.findIndex((g) => Array.isArray(g?.hooks) && g.hooks.some(isOurs));
      if (at < 0) groups.push(group);
      else if (JSON.stringify(groups[at]) !== JSON.stringify(group)) groups[at] = group;
      else continue;
      hooksChanged = true;
      hooks[event] = groups;
    }
    data.hooks = hooks;
    (hooksChanged ? result.changed : result.kept).push(`hooks (${GEMINI_EVENTS.join(', ')}): ${command}`);
    if (data.hooksConfig?.enabled === false)
      result.notes.push(`hooks are off in ${file} (hooksConfig.enabled: false): cc-dm's mail then waits for the inbox tool.`);

    for (const w of GEMINI_WAKE_SETTINGS) {
      const now = get(data, w.path);
      if (now === undefined) {
        set(data, w.path, w.value);
        record.added.push(w);
        result.changed.push(`${w.path}: ${JSON.stringify(w.value)} (lets a background cc-dm wait wake an idle session)`);
      } else if (JSON.stringify(now) === JSON.stringify(w.value)) result.kept.push(`${w.path}: ${JSON.stringify(w.value)}`);
      else
        result.notes.push(
          `${w.path} is ${JSON.stringify(now)} in ${file} (cc-dm leaves your value): an idle Gemini CLI cannot be woken, and its mail waits for its next prompt. Set it to ${JSON.stringify(w.value)} to be woken.`,
        );
    }
    if (record.added.some((a) => a.path === 'experimental.modelSteering'))
      result.notes.push(
        'With model steering on, what you type while Gemini CLI works steers the running turn instead of waiting for the next one.',
      );
    const out = JSON.stringify(data, null, 2) + '\n';
    if (out !== text) writeAtomic(file, data);
    result.notes.push(...npxNotes('gemini'));
    return { result, record };
  },

  async undo(ctx, record) {
    const result: SetupResult = { host: 'gemini', changed: [], kept: [], launch: [], notes: [] };
    if (!existsSync(record.file)) return result;
    const { data } = read(record.file, ctx.force, ctx.say);
    if (data.mcpServers?.[record.server]) {
      delete data.mcpServers[record.server];
      result.changed.push(`MCP server "${record.server}" removed from ${record.file}`);
    }
    const hooks = (data.hooks ?? {}) as Record<string, any[]>;
    for (const [event, groups] of Object.entries(hooks)) {
      if (!Array.isArray(groups)) continue;
      const left = groups
        .map((g) => (Array.isArray(g?.hooks) ? { ...g, hooks: g.hooks.filter((h: any) => !isOurs(h)) } : g))
        .filter((g) => !Array.isArray(g?.hooks) || g.hooks.length > 0);
      if (left.length !== groups.length || JSON.stringify(left) !== JSON.stringify(groups))
        result.changed.push(`cc-dm's ${event} hook removed`);
      if (left.length) hooks[event] = left;
      else delete hooks[event];
    }
    for (const a of record.added) {
      if (JSON.stringify(get(data, a.path)) === JSON.stringify(a.value)) {
        unset(data, a.path);
        result.changed.push(`${a.path} removed (cc-dm had set it)`);
      }
    }
    for (const k of record.absentKeys) {
      const v = data[k];
      if (v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0) delete data[k];
    }
    if (!record.existed && Object.keys(data).length === 0) rmSync(record.file);
    else writeAtomic(record.file, data);
    return result;
  },
};
