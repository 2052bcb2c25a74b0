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
import type { Bus } from '../bus/bus.js';
import { openBus } from '../bus/open.js';
import type { Config } from '../config.js';
import { createLogger, errorText } from '../log.js';
import { UnixSocketDoorbell, pickDoorbellDir } from '../wake/unix-socket.js';
import { channelFacts, channelVerdict } from './channels.js';
import { agentChecks } from './doctor-agents.js';
import { hooksVerdict } from './hooks-policy.js';

export type Status = 'ok' | 'warn' | 'fail';
export interface Check {
  check: string;
  status: Status;
  detail: string;
  fix?: string;
  /** Facts worth knowing that need no action. */
  notes?: string[];
}

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function mode(path: string): string {
  return (statSync(path).mode & 0o777).toString(8).padStart(3, '0');
}

/** Claude Code: on PATH first, then the one installed next to cc-dm (node_modules/.bin). */
export function findClaude(): { version: string; where: string } | undefined {
  for (const [cmd, where] of [
    ['claude', 'on PATH'],
    [join(ROOT, 'node_modules', '.bin', 'claude'), join(ROOT, 'node_modules', '.bin')],
  ] as const) {
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
  } catch {
    /* no record: look in the cache */
  }
  try {
    for (const market of readdirSync(join(plugins, 'cache'))) {
      if (existsSync(join(plugins, 'cache', market, 'cc-dm'))) return `cc-dm@${market} (in ${join(plugins, 'cache', market, 'cc-dm')})`;
    }
  } catch {
    /* no cache */
  }
  return undefined;
}

export async function doctor(cfg: Config, o: { fix: boolean; progress?: (what: string) => void }): Promise<Check[]> {
  const checks: Check[] = [];
  const add = (c: Check) => {
    checks.push(c);
    o.progress?.(c.check);
  };
  add({ check: 'node', status: 'ok', detail: `${process.version} on ${process.platform}` });

  let bus: Bus | undefined;
  try {
    bus = await openBus(cfg, { log: createLogger({ level: 'error', file: cfg.logFile }) });
    const d = bus.describeStore();
    add({ check: 'store', status: 'ok', detail: `${d.kind} ${d.where}` });
  } catch (e) {
    add({
      check: 'store',
      status: 'fail',
      detail: errorText(e),
      fix: cfg.databaseUrl ? 'check that PostgreSQL is up and CC_DM_DATABASE_URL is right' : `check ${cfg.dbPath} and its folder`,
    });
    return checks;
  }
  if (existsSync(cfg.home)) {
    const m = mode(cfg.home);
    add(
      m === '700'
        ? { check: 'home', status: 'ok', detail: `${cfg.home} (mode 700)` }
        : {
            check: 'home',
            status: 'warn',
            detail: `${cfg.home} has mode ${m}: history is readable by others`,
            fix: `chmod 700 ${cfg.home}`,
          },
    );
  }

  if (cfg.configFile) {
    const m = mode(cfg.configFile);
    const secret = /:\/\/[^/@\s]*:[^@\s]+@|password=/i.test(readFileSync(cfg.configFile, 'utf8'));
    add(
      secret && m !== '600' && m !== '400'
        ? {
            check: 'config file',
            status: 'warn',
            detail: `${cfg.configFile} holds a password and has mode ${m}`,
            fix: `chmod 600 ${cfg.configFile} (or keep the password in ~/.pgpass)`,
          }
        : { check: 'config file', status: 'ok', detail: `${cfg.configFile} (cc-dm config shows what it sets)` },
    );
  }

  try {
    const store = bus.describeStore();
    const { version, latest } = await bus.schema();
    add(
      version === latest
        ? { check: 'schema', status: 'ok', detail: `version ${version} (current)` }
        : {
            check: 'schema',
            status: version > latest ? 'fail' : 'warn',
            detail: `version ${version}, this cc-dm knows ${latest}`,
            fix: version > latest ? 'upgrade cc-dm' : 'run any cc-dm command to migrate',
          },
    );
    if (store.localFile && existsSync(store.where)) {
      const m = mode(store.where);
      if (m !== '600')
        add({ check: 'database file', status: 'warn', detail: `${store.where} has mode ${m}`, fix: `chmod 600 ${store.where}` });
    }

    const size = await bus.storeSize();
    const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;
    add({
      check: 'store size',
      status: 'ok',
      detail: `${mib(size.bytes)}; ${size.queued} delivery(ies) waiting (${mib(size.queuedBytes)}). Each session may keep at most ${cfg.queueMaxMessages} waiting (${mib(cfg.queueMaxBytes)}); cc-dm prune deletes old history`,
    });

    const roster = await bus.roster({ offline: true });
    const live = roster.filter((s) => s.live);
    add({
      check: 'sessions',
      status: 'ok',
      detail: live.length
        ? `${live.length} live: ${live.map((s) => `${s.name} (${s.agent ? `${s.agent}, ` : ''}${s.path}${s.presence ? `, ${s.presence}` : ''})`).join(', ')}`
        : 'none live',
    });
    const waiting = roster.filter((s) => s.pending > 0).map((s) => `${s.name} (${s.pending})`);
    if (waiting.length) add({ check: 'mailboxes', status: 'ok', detail: `mail waiting for ${waiting.join(', ')}` });
    const pending = await bus.approvals(true);
    add(
      pending.length
        ? {
            check: 'approvals',
            status: 'warn',
            detail: `${pending.length} permission request(s) waiting: ${pending.map((p) => `${p.request_id} from ${p.requester}`).join(', ')}`,
            fix: 'cc-dm approvals, then cc-dm approve <id> or deny <id>',
          }
        : { check: 'approvals', status: 'ok', detail: 'none waiting' },
    );

    if (!cfg.wake)
      add({
        check: 'doorbells',
        status: 'warn',
        detail: 'the doorbell is off (CC_DM_WAKE=0): delivery falls back to polling',
        fix: 'unset CC_DM_WAKE',
      });
    else if (store.ring === 'notify') add({ check: 'doorbells', status: 'ok', detail: 'LISTEN/NOTIFY: no socket files' });
    else {
      const place = pickDoorbellDir(cfg.home);
      const dir = place.dir;
      if (place.refused.length) {
        add({
          check: 'doorbell dir',
          status: 'warn',
          detail: `refused ${place.refused.join('; ')}: ${dir ? `sessions ring in ${dir} instead` : 'no private folder left, so sessions run on the fallback poll (CC_DM_POLL_MS) and mail waits up to a poll period'}`,
          fix: 'remove the folder named above (it is not yours), then restart the sessions',
        });
      }
      const open = await bus.openDoorbells();
      const files =
        dir && existsSync(dir)
          ? readdirSync(dir)
              .filter((f) => f.endsWith('.sock'))
              .map((f) => join(dir, f))
          : [];
      const stale = files.filter((f) => !open.has(f));
      if (!dir) {
        /* nothing to check: said above */
      } else if (stale.length && o.fix) {
        const removed = UnixSocketDoorbell.cleanStale(dir, open);
        const left = stale.length - removed.length;
        add({
          check: 'doorbells',
          status: left ? 'warn' : 'ok',
          detail: `removed ${removed.length} stale socket(s) in ${dir}${left ? `; ${left} younger than 10 s kept` : ''}`,
        });
      } else if (stale.length) {
        add({
          check: 'doorbells',
          status: 'warn',
          detail: `${stale.length} stale socket(s) in ${dir} (left by killed sessions; harmless, a ring to them is lost and the poll delivers)`,
          fix: 'cc-dm doctor --fix',
        });
      } else add({ check: 'doorbells', status: 'ok', detail: `${files.length} socket(s) in ${dir}, none stale` });
    }
  } catch (e) {
    add({ check: 'store', status: 'fail', detail: errorText(e) });
  } finally {
    await bus.close();
  }

  const plugin = findPlugin(cfg.claudeConfigDir);
  add(
    plugin
      ? { check: 'plugin', status: 'ok', detail: plugin }
      : {
          check: 'plugin',
          status: 'warn',
          detail: `not installed in ${join(cfg.claudeConfigDir, 'plugins')}`,
          fix: 'cc-dm setup claude',
        },
  );
  // Without the channel flag mail comes in by the plugin's hooks: would Claude Code run them?
  const hooks = hooksVerdict(cfg, process.cwd());
  add(
    !plugin
      ? {
          check: 'hooks',
          status: 'warn',
          detail: 'the plugin is not installed, and its hooks are what carry mail in without the channel flag',
          fix: 'cc-dm setup claude',
        }
      : hooks.run
        ? {
            check: 'hooks',
            status: 'ok',
            detail: 'no setting here turns plugin hooks off: sessions without the channel flag get mail by hooks',
          }
        : {
            check: 'hooks',
            status: 'warn',
            detail: `plugin hooks would not run (${hooks.problems.map((p) => p.why).join('; ')}): a session without the channel flag gets mail only when its model calls inbox`,
            fix: hooks.problems.map((p) => p.fix).join('; '),
          },
  );
  // The channel flag is the optional faster path: would a session started with it show the pushes?
  const verdict = channelVerdict(channelFacts(cfg, plugin?.split(' ')[0]));
  add(
    verdict.shown
      ? { check: 'channels', status: 'ok', detail: `\`${verdict.launch}\` shows cc-dm's pushes`, notes: verdict.notes }
      : {
          check: 'channels',
          // Only a warning when hooks cannot carry the mail either.
          status: hooks.run ? 'ok' : 'warn',
          detail: `\`${verdict.launch}\` would not show cc-dm's pushes (${verdict.problems.map((p) => p.why).join('; ')})${hooks.run ? ': sessions use the hook path, which needs no flag' : ''}`,
          fix: verdict.problems.map((p) => p.fix).join('; '),
          notes: verdict.notes,
        },
  );
  const claude = findClaude();
  add(
    claude
      ? { check: 'claude code', status: 'ok', detail: `${claude.version} (${claude.where})` }
      : {
          check: 'claude code',
          status: 'warn',
          detail: 'claude not found on PATH nor in node_modules/.bin',
          fix: 'install Claude Code: npm install -g @anthropic-ai/claude-code',
        },
  );
  // Codex CLI and Gemini CLI, where cc-dm is registered with them.
  for (const c of await agentChecks(cfg)) add(c);
  return checks;
}
