/** What a CLI command works with: the configuration and a bus over the store it selects. */
import { openBus } from '../bus/open.js';
import type { Bus } from '../bus/bus.js';
import { loadConfig, type Config } from '../config.js';
import { CcDmError } from '../errors.js';
import { createLogger } from '../log.js';
import { nearestAgent, nearestClaude } from '../procfs.js';

export interface CliContext {
  cfg: Config;
  bus: Bus;
  close(): Promise<void>;
}

export async function openContext(env?: NodeJS.ProcessEnv): Promise<CliContext> {
  const cfg = loadConfig(env);
  const bus = await openBus(cfg, { log: createLogger({ level: cfg.logLevel, file: cfg.logFile, tag: 'cc-dm' }) });
  return { cfg, bus, close: () => bus.close() };
}

/**
 * Human-only commands refuse inside a Claude Code tool call: a model must not act as the human.
 * Two signs, either enough: CLAUDECODE=1 (Claude Code sets it for its tool calls), and a Claude
 * Code process among this process's ancestors (a model can unset a variable, not its parent).
 * What this cannot stop (README, "Security model"): a process that left Claude Code's process
 * tree (setsid, nohup, a tmux or at job, cron, systemd-run), and any other process of this user.
 */
export function requireHuman(cfg: Config, what: string): void {
  if (cfg.insideClaudeCode) {
    throw new CcDmError(
      'E_HUMAN_ONLY',
      `${what} is for the human only, and this runs inside a Claude Code tool call (CLAUDECODE=1). Ask the human to run it in their own terminal, or use the dm tool.`,
    );
  }
  const claude = nearestClaude();
  if (claude) {
    throw new CcDmError(
      'E_HUMAN_ONLY',
      `${what} is for the human only, and this runs under Claude Code (process ${claude.pid}: ${claude.argv.slice(0, 2).join(' ').slice(0, 80)}), even with CLAUDECODE unset. Ask the human to run it in their own terminal, or use the dm tool.`,
    );
  }
  // Codex and Gemini CLI run a model's shell commands as their own children too.
  const agent = nearestAgent(64);
  if (agent && agent.agent !== 'claude') {
    const host = agent.agent === 'codex' ? 'Codex' : 'Gemini CLI';
    throw new CcDmError(
      'E_HUMAN_ONLY',
      `${what} is for the human only, and this runs under ${host} (process ${agent.pid}: ${agent.argv.slice(0, 2).join(' ').slice(0, 80)}). Ask the human to run it in their own terminal, or use the dm tool.`,
    );
  }
}
