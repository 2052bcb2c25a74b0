/**
 * `cc-dm hook <event>`: the process an agent CLI's hook runs. Loaded without the CLI (bin/cc-dm.js
 * goes straight here), since a hook starts a process per event: about 250 ms of node start-up is
 * the floor, commander and every other command would add to it.
 *
 * A hook never breaks its agent: a failure is logged (CC_DM_LOG_FILE, else stderr) and the hook
 * answers nothing (exit 0); the mail stays queued and the next ring or the inbox tool delivers it.
 */
import { openBus } from '../bus/open.js';
import { loadConfig } from '../config.js';
import { createLogger, errorText } from '../log.js';
import { ClaudeHooks, type HookInput } from './claude-hooks.js';

async function readInput(): Promise<HookInput> {
  if (process.stdin.isTTY) return {};
  let data = '';
  for await (const chunk of process.stdin) data += chunk;
  try {
    return JSON.parse(data || '{}') as HookInput;
  } catch {
    return {};
  }
}

export async function runHook(event: string): Promise<void> {
  const cfg = loadConfig();
  const log = createLogger({ level: cfg.logLevel, file: cfg.logFile, tag: `cc-dm hook ${event}` });
  const input = await readInput();
  let stdout = '';
  let exitCode = 0;
  try {
    const bus = await openBus(cfg, { log });
    try {
      ({ stdout, exitCode } = await new ClaudeHooks(bus, cfg).run(event, input));
    } finally {
      await bus.close();
    }
  } catch (e) {
    log.error(errorText(e));
  }
  if (stdout) await new Promise<void>((resolve) => process.stdout.write(stdout, () => resolve()));
  process.exitCode = exitCode;
}
