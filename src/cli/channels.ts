/**
 * Would the local Claude Code show cc-dm's pushes to a session started as documented
 * (`claude --dangerously-load-development-channels plugin:cc-dm@cc-dm`)? Channels are a research
 * preview, gated in Claude Code (2.1.33x) by, in this order: first-party auth (not Bedrock,
 * Vertex, Foundry...), the feature itself (a flag of the account), the org's policy
 * (`channelsEnabled` in managed settings: off by default for claude.ai Team and Enterprise, and
 * for a Console login whenever managed settings exist), the channel named on the command line for
 * an installed plugin of that marketplace, and, without the development flag, an allowlist
 * (`allowedChannelPlugins` in managed settings, else Anthropic's own list, which has no cc-dm).
 *
 * This reads the files Claude Code reads for them: managed settings (`managed-settings.json` and
 * `managed-settings.d/*.json` in /etc/claude-code, or /Library/Application Support/ClaudeCode on
 * macOS; server-managed settings as cached in `<claude dir>/remote-settings.json`), the user's
 * `settings.json` (enabledPlugins), `.credentials.json` (a claude.ai login and its plan) and
 * `.claude.json` (cached feature flags). What cannot be read locally is said, never guessed.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLAUDE_PROVIDER_ENV, type Config } from '../config.js';

export interface ChannelFacts {
  /** A third-party provider variable that is set (CLAUDE_CODE_USE_BEDROCK...). */
  provider?: string;
  /** The merged managed settings, and the files they came from; undefined: none. */
  managed?: Record<string, any>;
  managedFiles: string[];
  /** claude.ai login (with its plan) or a Console API key; unknown when neither is seen. */
  login: { kind: 'claude.ai'; plan?: string } | { kind: 'api-key' } | { kind: 'unknown' };
  /** The cached channels feature flag (tengu_harbor); undefined: not cached yet. */
  feature?: boolean;
  /** The installed plugin id (cc-dm@<marketplace>), and whether the user disabled it. */
  plugin?: string;
  pluginDisabled: boolean;
}

export interface ChannelVerdict {
  /** Pushes would be shown to a session started with the documented line. */
  shown: boolean;
  /** The documented launch line for this installation. */
  launch: string;
  /** Why not, each with what to change. */
  problems: { why: string; fix: string }[];
  /** Facts worth knowing that do not block (a confirmation dialog, a flag not cached yet). */
  notes: string[];
}

export function readJsonObject(file: string): Record<string, any> | undefined {
  try {
    const data = JSON.parse(readFileSync(file, 'utf8'));
    return typeof data === 'object' && data !== null && !Array.isArray(data) ? data : undefined;
  } catch {
    return undefined;
  }
}

const truthy = (v: string | undefined) => !!v && !['0', 'false', 'no', 'off', ''].includes(v.toLowerCase());

/** Managed settings as Claude Code merges them: the file, its drop-ins in name order, then server-managed. */
export function readManaged(managedDir: string, claudeDir: string): { managed?: Record<string, any>; files: string[] } {
  const files: string[] = [];
  const parts: Record<string, any>[] = [];
  const base = join(managedDir, 'managed-settings.json');
  const add = (file: string, data: Record<string, any> | undefined) => {
    if (!data) return;
    files.push(file);
    parts.push(data);
  };
  add(base, existsSync(base) ? readJsonObject(base) : undefined);
  const dropIns = join(managedDir, 'managed-settings.d');
  if (existsSync(dropIns)) {
    for (const f of readdirSync(dropIns)
      .filter((f) => f.endsWith('.json'))
      .sort())
      add(join(dropIns, f), readJsonObject(join(dropIns, f)));
  }
  const remote = join(claudeDir, 'remote-settings.json');
  if (existsSync(remote)) {
    const data = readJsonObject(remote);
    add(remote, data && typeof data.settings === 'object' ? data.settings : data);
  }
  return { managed: parts.length ? Object.assign({}, ...parts) : undefined, files };
}

export function channelFacts(cfg: Config, plugin: string | undefined): ChannelFacts {
  const { managed, files } = readManaged(cfg.claudeManagedDir, cfg.claudeConfigDir);
  const creds = readJsonObject(join(cfg.claudeConfigDir, '.credentials.json'));
  const oauth = creds?.claudeAiOauth;
  const login: ChannelFacts['login'] =
    cfg.claudeEnv.ANTHROPIC_API_KEY && !cfg.claudeEnv.CLAUDE_CODE_OAUTH_TOKEN
      ? { kind: 'api-key' }
      : oauth || cfg.claudeEnv.CLAUDE_CODE_OAUTH_TOKEN
        ? { kind: 'claude.ai', plan: oauth?.subscriptionType ?? undefined }
        : { kind: 'unknown' };
  const flags = readJsonObject(cfg.claudeJson)?.cachedGrowthBookFeatures;
  const settings = readJsonObject(join(cfg.claudeConfigDir, 'settings.json'));
  return {
    provider: CLAUDE_PROVIDER_ENV.find((k) => truthy(cfg.claudeEnv[k])),
    managed,
    managedFiles: files,
    login,
    feature: typeof flags?.tengu_harbor === 'boolean' ? flags.tengu_harbor : undefined,
    plugin,
    pluginDisabled: !!plugin && settings?.enabledPlugins?.[plugin] === false,
  };
}

/** The verdict for a session started with the documented line (the development flag). */
export function channelVerdict(f: ChannelFacts): ChannelVerdict {
  const plugin = f.plugin ?? 'cc-dm@cc-dm';
  const launch = `CC_DM_SESSION_NAME=<name> claude --dangerously-load-development-channels plugin:${plugin}`;
  const problems: ChannelVerdict['problems'] = [];
  const notes: string[] = [];
  const where = f.managedFiles.length ? f.managedFiles.join(', ') : 'managed settings (/etc/claude-code/managed-settings.json)';

  if (f.provider)
    problems.push({
      why: `Claude Code uses a third-party provider (${f.provider} is set): channels need Anthropic's own API or a claude.ai login`,
      fix: `unset ${f.provider} for cc-dm sessions, or read mail with the inbox tool (cc-dm works without pushes)`,
    });
  if (f.feature === false)
    problems.push({
      why: 'channels are not available to this account yet (Claude Code cached the research-preview flag as off)',
      fix: 'nothing to set locally: cc-dm falls back to the inbox tool until the account has channels',
    });
  else if (f.feature === undefined) notes.push('Claude Code has not cached whether this account has channels (it checks at start)');

  const enabled = f.managed?.channelsEnabled === true;
  const team = f.login.kind === 'claude.ai' && (f.login.plan === 'team' || f.login.plan === 'enterprise');
  if (team && !enabled)
    problems.push({
      why: `the org has not allowed channels (claude.ai ${(f.login as { plan: string }).plan}: channelsEnabled is off unless an admin sets it)`,
      fix: 'an admin sets "channelsEnabled": true in managed settings (server-managed settings or /etc/claude-code/managed-settings.json)',
    });
  else if (f.login.kind !== 'claude.ai' && f.managed && !enabled)
    problems.push({
      why: `managed settings exist (${where}) without "channelsEnabled": true, which turns channels off for this login`,
      fix: `an admin adds "channelsEnabled": true to ${where}`,
    });
  else if (f.login.kind === 'claude.ai' && !team && f.managed?.channelsEnabled === false)
    notes.push(`"channelsEnabled": false in ${where}`);

  if (!f.plugin) problems.push({ why: 'the cc-dm plugin is not installed in Claude Code', fix: 'cc-dm setup claude' });
  else if (f.pluginDisabled) problems.push({ why: `the plugin ${f.plugin} is disabled`, fix: `claude plugin enable ${f.plugin}` });

  // Without the development flag: the allowlist decides, and Anthropic's own list has no cc-dm.
  const allow = f.managed?.allowedChannelPlugins;
  const [name, market] = plugin.split('@');
  const listed =
    Array.isArray(allow) &&
    allow.some((e: unknown) =>
      typeof e === 'string' ? e === plugin : !!e && (e as any).plugin === name && (e as any).marketplace === market,
    );
  notes.push(
    listed
      ? `the org allowlists ${plugin} (allowedChannelPlugins): --channels plugin:${plugin} works too, without the development flag's confirmation`
      : `the development flag asks for a confirmation at each start; --channels plugin:${plugin} instead needs an org allowlist entry: "allowedChannelPlugins": [{"plugin": "${name}", "marketplace": "${market}"}] (with "channelsEnabled": true) in managed settings`,
  );
  return { shown: problems.length === 0, launch, problems, notes };
}
