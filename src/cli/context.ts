/** What a CLI command works with: the configuration, the store, and a bus over them. */
import { loadConfig, type Config } from '../config.js';
import { CcDmError } from '../errors.js';
import { Bus } from '../bus/bus.js';
import { openStore } from '../store/open.js';
import { openDoorbell } from '../wake/open.js';

export interface CliContext {
  cfg: Config;
  bus: Bus;
  close(): Promise<void>;
}

export async function openContext(env: NodeJS.ProcessEnv = process.env): Promise<CliContext> {
  const cfg = loadConfig(env);
  const store = await openStore(cfg);
  const doorbell = openDoorbell(cfg, store);
  const bus = new Bus(store, cfg, doorbell);
  return { cfg, bus, close: async () => { await doorbell.close(); await store.close(); } };
}

/** Human-only commands refuse inside a Claude Code tool call: a model must not act as the human. */
export function requireHuman(cfg: Config, what: string): void {
  if (cfg.insideClaudeCode) {
    throw new CcDmError('E_HUMAN_ONLY', `${what} is for the human only, and this runs inside a Claude Code tool call (CLAUDECODE=1). Ask the human to run it in their own terminal, or use the dm tool.`);
  }
}
