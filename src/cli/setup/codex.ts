/**
 * `cc-dm setup codex`: registers cc-dm with Codex CLI (measured with 0.171.0:
 * test/e2e/AGENT-CLIS.md), in `$CODEX_HOME` (default ~/.codex):
 *
 * - config.toml: `[mcp_servers.cc-dm]`, the server as `node <flags> <package>/bin/cc-dm.js serve`
 *   (the plugin's flags: src/launch.ts), with
 *   `required = true` (else a server slower than ~1 s to start is left out of the turn),
 *   `default_tools_approval_mode = "approve"` (else every call fails under approval policy
 *   never in the sandboxed modes), the store's folder in `env` (Codex passes a server only a few
 *   variables), and `env_vars` forwarding the launch identity (CC_DM_SESSION_NAME, ...), which
 *   reaches a Codex that runs in-process (`--no-daemon`, `codex exec`).
 * - hooks.json: one handler per event, `cc-dm hook codex`, appended after the user's own (trust
 *   keys are positional: theirs keep theirs), with `additionalContextLimit: 0` (Codex would
 *   otherwise spill text over ~2,500 tokens to a file).
 * - the hooks' trust, recorded as Codex records it (`[hooks.state."<key>"] trusted_hash`, with key
 *   and hash from `codex app-server`'s `hooks/list`), and read back: untrusted hooks are skipped
 *   silently by `codex exec`, and make the TUI stop at a review dialog.
 *
 * Files are edited, never rewritten from scratch: config.toml as text (cc-dm's tables removed and
 * appended), hooks.json keeping every other hook. What setup added is recorded, so --undo removes
 * exactly that.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CcDmError } from '../../errors.js';
import { SERVER_NODE_FLAGS } from '../../launch.js';
import { shellWord } from '../../delivery/hook-main.js';
import { PACKAGE_ROOT, readJson, npxNotes, type HostSetup, type SetupContext, type SetupResult } from './common.js';
import { appendTables, parseToml, removeTables, tomlKey, tomlString } from './toml-text.js';

export interface CodexRecord {
  configFile: string;
  hooksFile: string;
  configExisted: boolean;
  hooksExisted: boolean;
  /** The MCP server's name in config.toml. */
  server: string;
  /** Trust entries setup wrote (`[hooks.state."<key>"]`). */
  trustKeys: string[];
}

const SERVER = 'cc-dm';
/** The events cc-dm's hook handles (src/delivery/codex-hooks.ts). */
export const CODEX_EVENTS = ['SessionStart', 'UserPromptSubmit', 'PostToolUse', 'Stop', 'PermissionRequest', 'SessionEnd'] as const;
/** Events whose additionalContext carries mail: never spilled to a file. */
const CONTEXT_EVENTS = new Set(['SessionStart', 'UserPromptSubmit', 'PostToolUse']);
/** Launch identity a Codex run in-process passes on to the server. */
const FORWARDED = ['CC_DM_SESSION_NAME', 'CC_DM_SESSION_ROLE', 'CC_DM_SESSION_PROJECT'];

const BIN = () => join(PACKAGE_ROOT, 'bin', 'cc-dm.js');

/** The hook command: the store's folder, node and this package's bin (Codex runs it through a shell). */
export function codexHookCommand(home: string): string {
  return `CC_DM_HOME=${shellWord(home)} ${shellWord(process.execPath)} ${shellWord(BIN())} hook codex`;
}

/** Whether a hook handler is cc-dm's (any install of it). */
const isOurs = (h: any) => typeof h?.command === 'string' && /\bhook codex$/.test(h.command) && /cc-dm/.test(h.command);

function writeAtomic(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(`${file}.cc-dm-tmp`, text);
  renameSync(`${file}.cc-dm-tmp`, file);
}

function mcpBlock(home: string): string {
  return [
    '# cc-dm (cc-dm setup codex; cc-dm setup --undo codex removes it)',
    `[mcp_servers.${tomlKey(SERVER)}]`,
    `command = ${tomlString(process.execPath)}`,
    `args = [${[...SERVER_NODE_FLAGS, BIN(), 'serve'].map(tomlString).join(', ')}]`,
    `env = { CC_DM_HOME = ${tomlString(home)} }`,
    `env_vars = [${FORWARDED.map(tomlString).join(', ')}]`,
    'required = true',
    'default_tools_approval_mode = "approve"',
    'startup_timeout_sec = 30',
    '',
  ].join('\n');
}

/** `codex` on PATH (its npm launcher or the native binary). */
export function codexExecutable(): string | undefined {
  const r = spawnSync('codex', ['--version'], { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'] });
  return r.status === 0 ? 'codex' : undefined;
}

interface HookInfo {
  key: string;
  command?: string;
  currentHash: string;
  trustStatus: string;
  sourcePath?: string;
}

/** Codex's own view of its hooks: `codex app-server` (stdio JSON-RPC) `hooks/list`. Bounded. */
export async function listCodexHooks(codex: string, cwd: string, timeoutMs = 60_000): Promise<HookInfo[]> {
  const child = spawn(codex, ['app-server'], { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  let buf = '';
  let stderr = '';
  const waiting = new Map<number, (m: any) => void>();
  child.stdout.on('data', (d) => {
    buf += d;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        const m = JSON.parse(line);
        if (m.id !== undefined) waiting.get(m.id)?.(m);
      } catch {
        /* not a message */
      }
    }
  });
  child.stderr.on('data', (d) => (stderr += d));
  let id = 0;
  const call = (method: string, params: unknown) =>
    new Promise<any>((resolve, reject) => {
      const n = ++id;
      const timer = setTimeout(
        () => reject(new Error(`codex app-server did not answer ${method} in ${timeoutMs} ms. ${stderr.slice(-300)}`)),
        timeoutMs,
      );
      waiting.set(n, (m) => {
        clearTimeout(timer);
        if (m.error) reject(new Error(`codex app-server ${method}: ${JSON.stringify(m.error)}`));
        else resolve(m.result);
      });
      child.stdin.write(JSON.stringify({ jsonrpc: '2.0', id: n, method, params }) + '\n');
    });
  try {
    await call('initialize', { clientInfo: { name: 'cc-dm-setup', version: '1' }, capabilities: { experimentalApi: true } });
    child.stdin.write(JSON.stringify({ jsonrpc: '2.0', method: 'initialized' }) + '\n');
    const res = await call('hooks/list', { cwds: [cwd] });
    return (res?.data?.[0]?.hooks ?? []) as HookInfo[];
  } finally {
    child.stdin.end();
    child.kill('SIGTERM');
  }
}

/** Our hook groups in hooks.json, one per event, appended after the user's own. */
function withOurHooks(data: Record<string, any>, command: string): { data: Record<string, any>; changed: boolean } {
  const hooks: Record<string, any[]> = data.hooks && typeof data.hooks === 'object' ? { ...data.hooks } : {};
  let changed = false;
  for (const event of CODEX_EVENTS) {
    const groups: any[] = Array.isArray(hooks[event]) ? [...hooks[event]!] : [];
    const handler: Record<string, unknown> = { type: 'command', command, timeout: 30 };
    if (CONTEXT_EVENTS.has(event)) handler.additionalContextLimit = 0;
    const at = groups.findIndex((g) => Array.isArray(g?.hooks) && g.hooks.some(isOurs));
    if (at >= 0) {
      const same = JSON.stringify(groups[at]) === JSON.stringify({ hooks: [handler] });
      if (!same) {
        groups[at] = { hooks: [handler] };
        changed = true;
      }
    } else {
      groups.push({ hooks: [handler] });
      changed = true;
    }
    hooks[event] = groups;
  }
  return { data: { ...data, hooks }, changed };
}

function withoutOurHooks(data: Record<string, any>): Record<string, any> {
  const hooks: Record<string, any[]> = data.hooks && typeof data.hooks === 'object' ? { ...data.hooks } : {};
  for (const [event, groups] of Object.entries(hooks)) {
    if (!Array.isArray(groups)) continue;
    const left = groups
      .map((g) => (Array.isArray(g?.hooks) ? { ...g, hooks: g.hooks.filter((h: any) => !isOurs(h)) } : g))
      .filter((g) => !Array.isArray(g?.hooks) || g.hooks.length > 0);
    if (left.length) hooks[event] = left;
    else delete hooks[event];
  }
  const out: Record<string, any> = { ...data, hooks };
  if (Object.keys(hooks).length === 0) delete out.hooks;
  return out;
}

const trustPrefix = (key: string) => ['hooks', 'state', key];

export const codexSetup: HostSetup<CodexRecord> = {
  host: 'codex',
  title: 'Codex CLI',
  launchTitle: 'Start Codex as usual; cc-dm names each thread, or give a name with --no-daemon:',
  present: (ctx) => existsSync(ctx.cfg.codexHome) || codexExecutable() !== undefined,

  async setup(ctx: SetupContext, previous) {
    const { cfg } = ctx;
    const configFile = join(cfg.codexHome, 'config.toml');
    const hooksFile = join(cfg.codexHome, 'hooks.json');
    const record: CodexRecord = previous ?? {
      configFile,
      hooksFile,
      configExisted: existsSync(configFile),
      hooksExisted: existsSync(hooksFile),
      server: SERVER,
      trustKeys: [],
    };
    const result: SetupResult = {
      host: 'codex',
      changed: [],
      kept: [],
      launch: [
        'codex    # each thread is a cc-dm session named codex-<6 hex of its thread id>, woken in under a second',
        'CC_DM_SESSION_NAME=alice codex --no-daemon    # a name of your own; this Codex polls its queue: woken in ~10 s',
      ],
      notes: [],
    };

    // config.toml: our server (replacing our own earlier entry, never another one unless --force).
    const before = existsSync(configFile) ? readFileSync(configFile, 'utf8') : '';
    const parsed = parseToml(before, configFile);
    if (parsed.mcp_servers?.[SERVER] && !previous && !ctx.force) {
      throw new CcDmError(
        'E_NAME_TAKEN',
        `${configFile} already has an MCP server named "${SERVER}" that cc-dm setup did not add (another install of cc-dm?). Run cc-dm setup codex --force to replace it, or remove [mcp_servers.${SERVER}] yourself.`,
      );
    }
    // Ours out (the server, and the trust setup recorded before: re-recorded below when codex is
    // here), then in again at the end, always together and in the same order.
    const codex = codexExecutable();
    const base = removeTables(before, [['mcp_servers', SERVER], ...(codex ? record.trustKeys.map(trustPrefix) : [])]).text;
    let text = appendTables(base, mcpBlock(cfg.home));

    // hooks.json: ours after the user's.
    const hooksBefore = existsSync(hooksFile) ? readFileSync(hooksFile, 'utf8') : '';
    const hooksData = hooksBefore ? readJson(hooksFile) : {};
    if (!hooksData)
      throw new CcDmError('E_INVALID', `${hooksFile} is not a JSON object: fix it (or move it away) and run cc-dm setup codex again.`);
    const command = codexHookCommand(cfg.home);
    const hooks = withOurHooks(hooksData, command);
    const hooksText = JSON.stringify(hooks.data, null, 2) + '\n';
    if (hooksText !== hooksBefore) writeAtomic(hooksFile, hooksText);
    (hooks.changed ? result.changed : result.kept).push(`hooks in ${hooksFile} (${CODEX_EVENTS.join(', ')}): ${command}`);

    // Trust, as Codex records it, from its own hashes; then read back.
    if (!codex) {
      result.notes.push(
        'codex was not found on PATH, so the hooks could not be marked trusted: codex exec skips untrusted hooks silently, the TUI asks once ("Trust all and continue"). Run cc-dm setup codex again with codex on PATH.',
      );
    } else {
      const mine = (list: HookInfo[]) => list.filter((h) => h.command === command && (!h.sourcePath || h.sourcePath === hooksFile));
      // The user's config as it will be, so hooks/list judges trust on it.
      writeAtomic(configFile, text);
      const listed = mine(await listCodexHooks(codex, cfg.codexHome));
      if (listed.length !== CODEX_EVENTS.length)
        throw new CcDmError(
          'E_INTERNAL',
          `codex hooks/list shows ${listed.length} of cc-dm's ${CODEX_EVENTS.length} hooks in ${hooksFile}.`,
        );
      // Any entry at our keys makes way for ours.
      const block = ['# cc-dm: trust for its hooks (cc-dm setup codex)'];
      for (const h of listed) block.push(`[hooks.state.${tomlString(h.key)}]`, `trusted_hash = ${tomlString(h.currentHash)}`, '');
      text = appendTables(
        appendTables(
          removeTables(
            base,
            listed.map((h) => trustPrefix(h.key)),
          ).text,
          mcpBlock(cfg.home),
        ),
        block.join('\n'),
      );
      record.trustKeys = listed.map((h) => h.key);
      parseToml(text, configFile);
      writeAtomic(configFile, text);
      const after = mine(await listCodexHooks(codex, cfg.codexHome));
      const bad = after.filter((h) => h.trustStatus !== 'trusted');
      if (bad.length)
        throw new CcDmError(
          'E_INTERNAL',
          `Codex does not read cc-dm's hooks back as trusted: ${bad.map((h) => `${h.key} (${h.trustStatus})`).join(', ')}.`,
        );
      result.changed.push(`trust for cc-dm's ${listed.length} hooks recorded in ${configFile}, read back as trusted`);
    }
    parseToml(text, configFile);
    const changedConfig = text !== before;
    if (changedConfig) writeAtomic(configFile, text);
    (changedConfig || !previous ? result.changed : result.kept).push(`MCP server "${SERVER}" in ${configFile}`);

    result.notes.push(
      "A Codex TUI runs its threads in a shared daemon, whose environment is that of the TUI that started it: CC_DM_SESSION_NAME names a session only with --no-daemon (or codex exec). A closed TUI's thread stays loaded for thread_unload_delay_secs (60 s by default) before it ends.",
    );
    result.notes.push(...npxNotes('codex'));
    return { result, record };
  },

  async undo(_ctx, record) {
    const result: SetupResult = { host: 'codex', changed: [], kept: [], launch: [], notes: [] };
    if (existsSync(record.configFile)) {
      const before = readFileSync(record.configFile, 'utf8');
      const { text, removed } = removeTables(before, [['mcp_servers', record.server], ...record.trustKeys.map(trustPrefix)]);
      if (removed) {
        if (text.trim() === '' && !record.configExisted) rmSync(record.configFile);
        else writeAtomic(record.configFile, text);
        result.changed.push(`MCP server "${record.server}" and the hooks' trust removed from ${record.configFile}`);
      }
    }
    const data = readJson(record.hooksFile);
    if (data) {
      const left = withoutOurHooks(data);
      if (JSON.stringify(left) !== JSON.stringify(data)) {
        if (Object.keys(left).length === 0 && !record.hooksExisted) rmSync(record.hooksFile);
        else writeAtomic(record.hooksFile, JSON.stringify(left, null, 2) + '\n');
        result.changed.push(`cc-dm's hooks removed from ${record.hooksFile}`);
        if (Object.keys(left.hooks ?? {}).length)
          result.notes.push(
            "hooks listed after cc-dm's in the same event moved up one place: Codex asks to trust them again (trust keys are positional).",
          );
      }
    }
    return result;
  },
};
