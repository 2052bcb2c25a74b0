/**
 * `cc-dm setup claude`: registers cc-dm as a Claude Code plugin from the installed package,
 * offline, with Claude Code's own commands (`claude plugin marketplace add`, `claude plugin
 * install`), and prints the launch line.
 *
 * The marketplace is a small folder of our own, $CC_DM_HOME/claude-marketplace: the package's
 * marketplace.json, and `plugin`, a link to the plugin folder (the package itself when installed
 * from npm; a clone's `plugin/` folder of links). Claude Code runs a directory marketplace's plugin
 * in place, so the server starts from the package, and Node finds its dependencies wherever npm
 * put them; its copy in Claude Code's cache has no package-lock.json, so Claude Code never runs
 * `npm ci` in it (which would need the network and drop better-sqlite3's native build). Whatever
 * the plugin folder holds (hooks, skills, the server) is what Claude Code installs.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CcDmError } from '../../errors.js';
import { PACKAGE_ROOT, readJson, runsFromNpx, type HostSetup, type SetupContext, type SetupResult } from './common.js';

export interface ClaudeRecord {
  marketplace: { name: string; dir: string; added: boolean };
  plugin: { id: string; installed: boolean };
  /** Claude Code's user settings before the first setup: what undo may tidy (never other keys). */
  settings: { existed: boolean; absentKeys: string[] };
}

/** The keys of ~/.claude/settings.json that `claude plugin` commands add for us. */
const OUR_SETTINGS_KEYS = ['enabledPlugins', 'extraKnownMarketplaces'];

/** The plugin folder: a clone's `plugin/` (links to its files, without the lockfile), else the package. */
export function pluginFolder(root = PACKAGE_ROOT): string {
  return existsSync(join(root, 'plugin', '.claude-plugin', 'plugin.json')) ? join(root, 'plugin') : root;
}

/** The package's marketplace: its name and the one plugin it lists. */
function marketplaceOf(root = PACKAGE_ROOT): { text: string; name: string; plugin: string } {
  const file = join(root, '.claude-plugin', 'marketplace.json');
  const data = readJson(file);
  const plugin = data?.plugins?.[0]?.name;
  if (!data || typeof data.name !== 'string' || typeof plugin !== 'string')
    throw new CcDmError('E_INTERNAL', `${file} is missing or has no plugin: this cc-dm package is incomplete; reinstall it.`);
  return { text: readFileSync(file, 'utf8'), name: data.name, plugin };
}

/** `claude` on PATH, else the one installed next to cc-dm (a clone's dev dependency). */
export function claudeExecutable(root = PACKAGE_ROOT): string | undefined {
  for (const cmd of ['claude', join(root, 'node_modules', '.bin', 'claude')]) {
    if (cmd !== 'claude' && !existsSync(cmd)) continue;
    const r = spawnSync(cmd, ['--version'], { encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'] });
    if (r.status === 0) return cmd;
  }
  return undefined;
}

/** The launch line of a session, as the README documents it. */
export function launchLine(pluginId: string, name = 'planner'): string {
  const [plugin, market] = pluginId.split('@');
  return `CC_DM_SESSION_NAME=${name} claude --dangerously-load-development-channels plugin:${plugin}@${market}`;
}

function claudeRun(claude: string, args: string[], ctx: SetupContext): string {
  ctx.say(`  claude ${args.join(' ')}`);
  const r = spawnSync(claude, args, { encoding: 'utf8', timeout: 180_000, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) {
    const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() || String(r.error ?? `exit ${r.status}`);
    throw new CcDmError('E_INTERNAL', `claude ${args.join(' ')} failed: ${out}`);
  }
  return r.stdout;
}

function knownMarketplace(claudeDir: string, name: string): string | undefined {
  const known = readJson(join(claudeDir, 'plugins', 'known_marketplaces.json'));
  const src = known?.[name]?.source;
  if (!src) return undefined;
  return String(src.path ?? src.url ?? src.repo ?? src.package ?? JSON.stringify(src));
}

function installedVersion(claudeDir: string, id: string): string | undefined | null {
  const installed = readJson(join(claudeDir, 'plugins', 'installed_plugins.json'));
  const entry = ([] as any[]).concat(installed?.plugins?.[id] ?? [])[0];
  return entry ? (entry.version ?? null) : undefined;
}

function pointLink(link: string, target: string): boolean {
  try {
    if (lstatSync(link).isSymbolicLink() && readlinkSync(link) === target) return false;
    rmSync(link, { recursive: true, force: true });
  } catch {
    /* absent */
  }
  symlinkSync(target, link, 'dir');
  return true;
}

export const claudeSetup: HostSetup<ClaudeRecord> = {
  host: 'claude',
  title: 'Claude Code',

  async setup(ctx, previous) {
    const { cfg } = ctx;
    const claude = claudeExecutable();
    if (!claude)
      throw new CcDmError(
        'E_NOT_FOUND',
        'Claude Code was not found (claude on PATH): install it first (npm install -g @anthropic-ai/claude-code), then run cc-dm setup claude again.',
      );
    const claudeDir = cfg.claudeConfigDir;
    const market = marketplaceOf();
    const id = `${market.plugin}@${market.name}`;
    const dir = join(cfg.home, 'claude-marketplace');
    const result: SetupResult = { host: 'claude', changed: [], kept: [], launch: [launchLine(id)], notes: [] };
    const settingsFile = join(claudeDir, 'settings.json');
    const settingsBefore = readJson(settingsFile);
    const record: ClaudeRecord = previous ?? {
      marketplace: { name: market.name, dir, added: false },
      plugin: { id, installed: false },
      settings: {
        existed: existsSync(settingsFile),
        absentKeys: OUR_SETTINGS_KEYS.filter((k) => !(settingsBefore && k in settingsBefore)),
      },
    };

    const known = knownMarketplace(claudeDir, market.name);
    if (known !== undefined && known !== dir) {
      if (!ctx.force)
        throw new CcDmError(
          'E_NAME_TAKEN',
          `Claude Code already has a marketplace named "${market.name}" from ${known} (another clone or install of cc-dm). Run cc-dm setup claude --force to replace it with this one, or remove it first: claude plugin marketplace remove ${market.name}`,
        );
      claudeRun(claude, ['plugin', 'marketplace', 'remove', market.name], ctx);
      result.notes.push(`replaced the marketplace "${market.name}" that pointed at ${known}`);
    }
    // Our marketplace folder: the package's marketplace.json and a link to the plugin folder.
    mkdirSync(join(dir, '.claude-plugin'), { recursive: true, mode: 0o700 });
    const manifest = join(dir, '.claude-plugin', 'marketplace.json');
    const stale = !existsSync(manifest) || readFileSync(manifest, 'utf8') !== market.text;
    if (stale) writeFileSync(manifest, market.text);
    const relinked = pointLink(join(dir, 'plugin'), pluginFolder());
    (stale || relinked ? result.changed : result.kept).push(`marketplace folder ${dir} -> ${pluginFolder()}`);

    if (known === dir) result.kept.push(`marketplace "${market.name}"`);
    else {
      claudeRun(claude, ['plugin', 'marketplace', 'add', dir], ctx);
      record.marketplace.added = true;
      result.changed.push(`marketplace "${market.name}" added`);
    }

    const version = installedVersion(claudeDir, id);
    const wanted = readJson(join(pluginFolder(), '.claude-plugin', 'plugin.json'))?.version as string | undefined;
    if (version === undefined) {
      claudeRun(claude, ['plugin', 'install', id], ctx);
      record.plugin.installed = true;
      result.changed.push(`plugin ${id} installed`);
    } else if (wanted && version !== wanted && known === dir) {
      // An upgraded package: Claude Code refreshes its copy from the marketplace.
      claudeRun(claude, ['plugin', 'marketplace', 'update', market.name], ctx);
      claudeRun(claude, ['plugin', 'update', id], ctx);
      result.changed.push(`plugin ${id} updated ${version} -> ${wanted}`);
    } else result.kept.push(`plugin ${id}${version ? ` ${version}` : ''}`);

    if (runsFromNpx())
      result.notes.push(
        `cc-dm runs from npx's cache (${PACKAGE_ROOT}), which npm may clear: for a lasting install run npm install -g cc-dm, then cc-dm setup claude again.`,
      );
    result.notes.push('cc-dm doctor tells whether this Claude Code will show the pushes (channels are a research preview).');
    return { result, record };
  },

  async undo(ctx, record) {
    const { cfg } = ctx;
    const result: SetupResult = { host: 'claude', changed: [], kept: [], launch: [], notes: [] };
    const claude = claudeExecutable();
    const claudeDir = cfg.claudeConfigDir;
    if ((record.plugin.installed || record.marketplace.added) && !claude)
      throw new CcDmError('E_NOT_FOUND', 'Claude Code (claude) was not found: it is needed to remove the plugin it installed.');
    if (record.plugin.installed && installedVersion(claudeDir, record.plugin.id) !== undefined) {
      claudeRun(claude!, ['plugin', 'uninstall', record.plugin.id], ctx);
      result.changed.push(`plugin ${record.plugin.id} uninstalled`);
    }
    if (record.marketplace.added && knownMarketplace(claudeDir, record.marketplace.name) === record.marketplace.dir) {
      claudeRun(claude!, ['plugin', 'marketplace', 'remove', record.marketplace.name], ctx);
      result.changed.push(`marketplace "${record.marketplace.name}" removed`);
    }
    if (existsSync(record.marketplace.dir)) {
      rmSync(record.marketplace.dir, { recursive: true, force: true }); // a manifest and a link: never the package
      result.changed.push(`marketplace folder ${record.marketplace.dir} removed`);
    }
    // Claude Code leaves the keys it added empty: tidy those that were absent before setup.
    const settingsFile = join(claudeDir, 'settings.json');
    const settings = readJson(settingsFile);
    if (settings) {
      let tidied = false;
      for (const k of record.settings.absentKeys) {
        const v = settings[k];
        if (v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0) {
          delete settings[k];
          tidied = true;
        }
      }
      if (!record.settings.existed && Object.keys(settings).length === 0) unlinkSync(settingsFile);
      else if (tidied) writeFileSync(settingsFile, JSON.stringify(settings, null, 2) + '\n');
    }
    return result;
  },
};
