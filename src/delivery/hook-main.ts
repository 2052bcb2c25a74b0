/**
 * `cc-dm hook <event>`: the process an agent CLI's hook runs. Claude Code's hooks name the event
 * (`cc-dm hook file-changed`); Codex's and Gemini CLI's name the host (`cc-dm hook codex`, `cc-dm
 * hook gemini`), and the event comes in the input (`hook_event_name`): one command for all. Loaded
 * without the CLI (bin/cc-dm.js goes straight here), since a hook starts a process per event:
 * about 250 ms of node start-up is the floor, commander and every other command would add to it.
 *
 * A hook never breaks its agent: a failure is logged (CC_DM_LOG_FILE, else stderr) and the hook
 * answers nothing (exit 0); the mail stays queued and the next ring or the inbox tool delivers it.
 */
import { openBus } from '../bus/open.js';
import { loadConfig } from '../config.js';
import { createLogger, errorText } from '../log.js';
import { nearestAgent } from '../procfs.js';
import type { HookInput } from './agent-hooks.js';
import { ClaudeHooks } from './claude-hooks.js';
import { CodexHooks } from './codex-hooks.js';
import { GeminiHooks } from './gemini-hooks.js';

/** A word safe in a POSIX shell command line. */
export function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The command that runs this cc-dm's `wait` (a Gemini model starts it in the background), with
 * the store's folder: the model's shell has the launch environment, which may not name it.
 */
export function waitCommand(home: string): string {
  return `CC_DM_HOME=${shellWord(home)} ${shellWord(process.execPath)} ${shellWord(process.argv[1] ?? 'cc-dm')} wait`;
}

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
      if (event === 'codex') {
        // The nearest Codex among the hook's ancestors: the TUI, `codex exec`, or the shared daemon.
        const codex = nearestAgent(8);
        ({ stdout, exitCode } = await new CodexHooks(bus, cfg, codex?.agent === 'codex' ? codex : undefined).run(input));
      } else if (event === 'gemini') {
        const gemini = nearestAgent(8);
        ({ stdout, exitCode } = await new GeminiHooks(
          bus,
          cfg,
          gemini?.agent === 'gemini' ? gemini.pid : undefined,
          waitCommand(cfg.home),
        ).run(input));
      } else {
        ({ stdout, exitCode } = await new ClaudeHooks(bus, cfg).run(event, input));
      }
    } finally {
      await bus.close();
    }
  } catch (e) {
    log.error(errorText(e));
  }
  if (stdout) await new Promise<void>((resolve) => process.stdout.write(stdout, () => resolve()));
  process.exitCode = exitCode;
}
