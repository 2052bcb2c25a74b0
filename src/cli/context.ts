/** What a CLI command works with: the configuration and a bus over the store it selects. */
import { openBus } from '../bus/open.js';
import type { Bus } from '../bus/bus.js';
import { loadConfig, type Config } from '../config.js';
import { CcDmError } from '../errors.js';
import { createLogger } from '../log.js';

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

/** Human-only commands refuse inside a Claude Code tool call: a model must not act as the human. */
export function requireHuman(cfg: Config, what: string): void {
  if (cfg.insideClaudeCode) {
    throw new CcDmError(
      'E_HUMAN_ONLY',
      `${what} is for the human only, and this runs inside a Claude Code tool call (CLAUDECODE=1). Ask the human to run it in their own terminal, or use the dm tool.`,
    );
  }
}
