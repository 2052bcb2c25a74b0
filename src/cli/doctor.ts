/**
 * `cc-dm doctor`: checks what a working setup needs, each with a verdict and, when something is
 * wrong, what to do. A failed check (store unreachable, schema newer than this cc-dm) makes the
 * command exit 1; warnings (plugin not installed, stale doorbells, approvals waiting) do not.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Bus } from '../bus/bus.js';
import type { Config } from '../config.js';
import { errorText } from '../log.js';
import { openStore } from '../store/open.js';
import type { Store } from '../store/types.js';
import { silentDoorbell } from '../wake/doorbell.js';
import { UnixSocketDoorbell, doorbellDir } from '../wake/unix-socket.js';

export type Status = 'ok' | 'warn' | 'fail';
export interface Check { check: string; status: Status; detail: string; fix?: string }

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function mode(path: string): string {
  return (statSync(path).mode & 0o777).toString(8).padStart(3, '0');
}

async function latestSchema(store: Store): Promise<number | undefined> {
  try {
    if (store.kind === 'sqlite') return (await import('../store/sqlite/migrations.js')).SQLITE_MIGRATIONS.at(-1)!.version;
    const path = '../store/postgres/migrations.js';
    const m = await import(path) as { PG_MIGRATIONS: readonly { version: number }[] };
    return m.PG_MIGRATIONS.at(-1)!.version;
  } catch { return undefined; }
}

/** Claude Code: on PATH first, then the one installed next to cc-dm (node_modules/.bin). */
export function findClaude(): { version: string; where: string } | undefined {
  for (const [cmd, where] of [['claude', 'on PATH'], [join(ROOT, 'node_modules', '.bin', 'claude'), join(ROOT, 'node_modules', '.bin')]] as const) {
    if (cmd !== 'claude' && !existsSync(cmd)) continue;
    const r = spawnSync(cmd, ['--version'], { encoding: 'utf8', timeout: 15_000, stdio: ['ignore', 'pipe', 'pipe'] });
    if (r.status === 0 && r.stdout.trim()) return { version: r.stdout.trim().split('\n')[0]!, where };
  }
  return undefined;
}

/** The plugin as Claude Code records it: installed_plugins.json, else a copy in its cache. */
export function findPlugin(claudeDir = join(homedir(), '.claude')): string | undefined {
  const plugins = join(claudeDir, 'plugins');
  try {
    const data = JSON.parse(readFileSync(join(plugins, 'installed_plugins.json'), 'utf8'));
    const map = (data.plugins ?? data) as Record<string, unknown>;
    const key = Object.keys(map).find((k) => k === 'cc-dm' || k.startsWith('cc-dm@'));
    if (key) {
      const entry = ([] as unknown[]).concat(map[key])[0] as { version?: string; installPath?: string } | undefined;
      return `${key}${entry?.version ? ` ${entry.version}` : ''}${entry?.installPath ? ` at ${entry.installPath}` : ''}`;
    }
  } catch { /* no record: look in the cache */ }
  try {
    for (const market of readdirSync(join(plugins, 'cache'))) {
      if (existsSync(join(plugins, 'cache', market, 'cc-dm'))) return `cc-dm@${market} (in ${join(plugins, 'cache', market, 'cc-dm')})`;
    }
  } catch { /* no cache */ }
  return undefined;
}

export async function doctor(cfg: Config, o: { fix: boolean; progress?: (what: string) => void }): Promise<Check[]> {
  const checks: Check[] = [];
  const add = (c: Check) => { checks.push(c); o.progress?.(c.check); };
  add({ check: 'node', status: 'ok', detail: `${process.version} on ${process.platform}` });

  let store: Store | undefined;
  try {
    store = await openStore(cfg);
    add({ check: 'store', status: 'ok', detail: `${store.kind} ${store.where}` });
  } catch (e) {
    add({
      check: 'store', status: 'fail', detail: errorText(e),
      fix: cfg.storeKind === 'postgres' ? 'check that PostgreSQL is up and CC_DM_DATABASE_URL is right' : `check ${cfg.dbPath} and its folder`,
    });
    return checks;
  }
  if (existsSync(cfg.home)) {
    const m = mode(cfg.home);
    add(m === '700' ? { check: 'home', status: 'ok', detail: `${cfg.home} (mode 700)` }
      : { check: 'home', status: 'warn', detail: `${cfg.home} has mode ${m}: history is readable by others`, fix: `chmod 700 ${cfg.home}` });
  }

  try {
    const version = await store.schemaVersion();
    const latest = await latestSchema(store);
    add(latest === undefined || version === latest
      ? { check: 'schema', status: 'ok', detail: `version ${version}${latest !== undefined ? ' (current)' : ''}` }
      : { check: 'schema', status: version > latest ? 'fail' : 'warn', detail: `version ${version}, this cc-dm knows ${latest}`, fix: version > latest ? 'upgrade cc-dm' : 'run any cc-dm command to migrate' });
    if (store.kind === 'sqlite' && existsSync(cfg.dbPath)) {
      const m = mode(cfg.dbPath);
      if (m !== '600') add({ check: 'database file', status: 'warn', detail: `${cfg.dbPath} has mode ${m}`, fix: `chmod 600 ${cfg.dbPath}` });
    }

    const bus = new Bus(store, cfg, silentDoorbell);
    const live = await bus.liveSessions();
    add({
      check: 'sessions', status: 'ok',
      detail: live.length ? `${live.length} live: ${live.map((s) => `${s.name}${s.can_push ? '' : ' (inbox only)'}`).join(', ')}` : 'none live',
    });
    const now = Date.now();
    const waiting: string[] = [];
    for (const n of await store.listNames()) {
      const count = await store.countPending(n.key, now);
      if (count) waiting.push(`${n.display} (${count})`);
    }
    if (waiting.length) add({ check: 'mailboxes', status: 'ok', detail: `mail waiting for ${waiting.join(', ')}` });
    const pending = await store.listPermissions(true);
    add(pending.length
      ? { check: 'approvals', status: 'warn', detail: `${pending.length} permission request(s) waiting: ${pending.map((p) => `${p.request_id} from ${p.requester_name}`).join(', ')}`, fix: 'cc-dm approvals, then cc-dm approve <id> or deny <id>' }
      : { check: 'approvals', status: 'ok', detail: 'none waiting' });

    if (!cfg.wake) add({ check: 'doorbells', status: 'warn', detail: 'the doorbell is off (CC_DM_WAKE=0): delivery falls back to polling', fix: 'unset CC_DM_WAKE' });
    else if (store.createDoorbell) add({ check: 'doorbells', status: 'ok', detail: 'LISTEN/NOTIFY: no socket files' });
    else {
      const dir = doorbellDir(cfg.home);
      const open = new Set((await store.openSessions()).map((s) => s.doorbell).filter((d): d is string => !!d));
      const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.sock')).map((f) => join(dir, f)) : [];
      const stale = files.filter((f) => !open.has(f));
      if (stale.length && o.fix) {
        const removed = UnixSocketDoorbell.cleanStale(dir, open);
        const left = stale.length - removed.length;
        add({ check: 'doorbells', status: left ? 'warn' : 'ok', detail: `removed ${removed.length} stale socket(s) in ${dir}${left ? `; ${left} younger than 10 s kept` : ''}` });
      } else if (stale.length) {
        add({ check: 'doorbells', status: 'warn', detail: `${stale.length} stale socket(s) in ${dir} (left by killed sessions; harmless, a ring to them is lost and the poll delivers)`, fix: 'cc-dm doctor --fix' });
      } else add({ check: 'doorbells', status: 'ok', detail: `${files.length} socket(s) in ${dir}, none stale` });
    }
  } catch (e) {
    add({ check: 'store', status: 'fail', detail: errorText(e) });
  } finally {
    await store.close();
  }

  const plugin = findPlugin(cfg.claudeConfigDir);
  add(plugin ? { check: 'plugin', status: 'ok', detail: plugin }
    : { check: 'plugin', status: 'warn', detail: `not installed in ${join(cfg.claudeConfigDir, 'plugins')}`, fix: `claude plugin marketplace add ${ROOT} && claude plugin install cc-dm@cc-dm` });
  const claude = findClaude();
  add(claude ? { check: 'claude code', status: 'ok', detail: `${claude.version} (${claude.where})` }
    : { check: 'claude code', status: 'warn', detail: 'claude not found on PATH nor in node_modules/.bin', fix: 'install Claude Code: npm install -g @anthropic-ai/claude-code' });
  return checks;
}
