/**
 * Would the local Claude Code run cc-dm's plugin hooks (the hook path: mail carried in and an idle
 * session woken without the channel flag)? Measured with Claude Code 2.1.332
 * (test/e2e/HOOKS-FACTS.md): `disableAllHooks: true` turns them off from user, project or managed
 * settings; `allowManagedHooksOnly: true` turns plugin hooks off only from managed settings (in
 * user settings it is ignored). Server-managed settings not yet cached and MDM cannot be read from
 * files, so a running session is the final word: its path in `who` is `hook` only once its
 * SessionStart hook has run.
 */
import { join } from 'node:path';
import type { Config } from '../config.js';
import { readJsonObject, readManaged } from './channels.js';

export interface HooksVerdict {
  /** Plugin hooks would run. */
  run: boolean;
  /** Why not: the setting and the file that sets it, with what to change. */
  problems: { why: string; fix: string }[];
}

/** The settings files Claude Code reads for a session started in `cwd`, most specific last. */
function settingsFiles(cfg: Config, cwd: string): string[] {
  return [join(cfg.claudeConfigDir, 'settings.json'), join(cwd, '.claude', 'settings.json'), join(cwd, '.claude', 'settings.local.json')];
}

export function hooksVerdict(cfg: Config, cwd: string): HooksVerdict {
  const problems: HooksVerdict['problems'] = [];
  for (const file of settingsFiles(cfg, cwd)) {
    if (readJsonObject(file)?.disableAllHooks === true)
      problems.push({
        why: `disableAllHooks is true in ${file}`,
        fix: `remove disableAllHooks from ${file}, or start sessions with the channel flag (README, "Delivery paths")`,
      });
  }
  const { managed, files } = readManaged(cfg.claudeManagedDir, cfg.claudeConfigDir);
  const where = files.join(', ');
  if (managed?.disableAllHooks === true)
    problems.push({
      why: `disableAllHooks is true in managed settings (${where})`,
      fix: 'ask whoever manages Claude Code here to allow hooks',
    });
  if (managed?.allowManagedHooksOnly === true)
    problems.push({
      why: `allowManagedHooksOnly is true in managed settings (${where}): plugin hooks do not run`,
      fix: 'ask whoever manages Claude Code here to allow plugin hooks, or start sessions with the channel flag',
    });
  return { run: problems.length === 0, problems };
}
