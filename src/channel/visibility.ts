/**
 * Will this session's Claude Code show our pushes? Claude Code drops channel notifications from
 * a server it was not told to load as a channel, silently, and nothing in the MCP handshake says
 * which case applies: its command line does (`--channels` or
 * `--dangerously-load-development-channels`). Other MCP clients say so by declaring the
 * `claude/channel` capability.
 */
import type { PushMode } from '../config.js';
import { nearestClaude } from '../procfs.js';

const CHANNEL_FLAGS = ['--channels', '--dangerously-load-development-channels'];

/** The nearest Claude Code ancestor (a shell or npx may stand between): its argv, if any. */
export function claudeAncestor(startPid = process.ppid, depth = 4): string[] | undefined {
  return nearestClaude(depth, startPid)?.argv;
}

/** The channel entries named on a Claude Code command line (`server:x`, `plugin:p@m`). */
export function channelEntries(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const flag = CHANNEL_FLAGS.find((f) => a === f || a.startsWith(f + '='));
    if (!flag) continue;
    if (a.startsWith(flag + '=')) out.push(...a.slice(flag.length + 1).split(/[\s,]+/));
    else for (let j = i + 1; j < argv.length && !argv[j]!.startsWith('-'); j++) out.push(...argv[j]!.split(/[\s,]+/));
  }
  return out.filter(Boolean);
}

/**
 * Does this command line load cc-dm as a channel? A `plugin:` entry names its plugin, so one
 * that is not cc-dm does not count; a `server:` entry uses the user's own name for a server,
 * which this process cannot see, so any such entry counts (bare flags as well).
 */
export function hasChannelFlag(argv: readonly string[]): boolean {
  if (!argv.some((a) => CHANNEL_FLAGS.some((f) => a === f || a.startsWith(f + '=')))) return false;
  const entries = channelEntries(argv);
  if (entries.length === 0) return true;
  return entries.some((e) => !e.startsWith('plugin:') || /^plugin:cc-dm(@|$)/.test(e));
}

/**
 * Decides push visibility: forced by CC_DM_PUSH, else by the Claude Code command line, else by
 * the client's declared capability (undefined until the handshake).
 */
export function decidePush(mode: PushMode, clientDeclaresChannel?: boolean): boolean {
  if (mode === 'on') return true;
  if (mode === 'off') return false;
  const claude = claudeAncestor();
  if (claude) return hasChannelFlag(claude);
  return clientDeclaresChannel === true;
}
