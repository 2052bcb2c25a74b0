/**
 * Gemini CLI's hooks (`hooks` in its settings.json), measured with Gemini CLI 0.61.0
 * (test/e2e/AGENT-CLIS.md). One command, `cc-dm hook gemini`, for every event; the event is the
 * input's `hook_event_name`, the session the Gemini CLI process that runs the hook (the parent of
 * both the hook and the cc-dm server):
 *
 *   SessionStart  bind the process's session id and transcript; the identity (and how to be woken)
 *   BeforeAgent   mail that waits, as additionalContext (`<hook_context>`, `<` and `>` escaped by
 *                 Gemini CLI): the next prompt, and the turn a waiter or a deny started
 *   AfterTool     mail that came during the turn, between tool calls (inside the tool's result)
 *   AfterAgent    mail that came during the turn's last step: {"decision":"deny","reason"} starts
 *                 another turn, whose BeforeAgent brings the mail; once per turn (stop_hook_active).
 *                 The reason is a fixed line, never the mail: Gemini CLI shows it to the user as
 *                 a warning, raw, and gives it to the model unescaped.
 *   Notification  a tool permission prompt: presence waiting for approval
 *   SessionEnd    presence offline (it may fire twice)
 *
 * Idle wake is a `cc-dm wait` the model itself starts in the background (src/delivery/waiter.ts):
 * with Gemini CLI's model steering and "inject" background completion, its exit starts a turn.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Bus } from '../bus/bus.js';
import type { AgentRef, AgentSessionView } from '../bus/hook.js';
import type { Config } from '../config.js';
import {
  claimFramed,
  contextAnswer,
  FRAMING_NOTE,
  identityLines,
  NOTHING,
  RECLAIM_AFTER_MS,
  settleClaims,
  TOOLS_NOTE,
  type HookAnswer,
  type HookInput,
} from './agent-hooks.js';

export interface GeminiHookInput extends HookInput {
  notification_type?: string;
}

/** SessionStart may run before the server has claimed its session: wait this long for it. */
const SESSION_WAIT_MS = 3_000;

/** Removes // and /* *\/ comments outside strings (Gemini CLI's settings.json allows them). */
export function stripJsonComments(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
      out += '\n';
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 1;
    } else out += c;
  }
  return out;
}

function readSettings(file: string): Record<string, any> | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const v = JSON.parse(stripJsonComments(readFileSync(file, 'utf8')));
    return typeof v === 'object' && v !== null ? v : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether Gemini CLI here can be woken by a background command: `experimental.modelSteering`
 * and `tools.shell.backgroundCompletionBehavior: "inject"`, from the user's settings with the
 * workspace's over them. Missing settings are what can be said, not a proof: a system settings
 * file may set them too.
 */
export function geminiCanWake(geminiDir: string, cwd: string | undefined): { ok: boolean; missing: string[] } {
  let steering: unknown;
  let completion: unknown;
  for (const file of [join(geminiDir, 'settings.json'), cwd ? join(cwd, '.gemini', 'settings.json') : '']) {
    const s = file ? readSettings(file) : undefined;
    if (!s) continue;
    if (s.experimental?.modelSteering !== undefined) steering = s.experimental.modelSteering;
    if (s.tools?.shell?.backgroundCompletionBehavior !== undefined) completion = s.tools.shell.backgroundCompletionBehavior;
  }
  const missing: string[] = [];
  if (steering !== true) missing.push('experimental.modelSteering: true');
  if (completion !== 'inject') missing.push('tools.shell.backgroundCompletionBehavior: "inject"');
  return { ok: missing.length === 0, missing };
}

export class GeminiHooks {
  constructor(
    private readonly bus: Bus,
    private readonly cfg: Config,
    /** The Gemini CLI process running this hook (and this session's cc-dm server). */
    private readonly geminiPid: number | undefined,
    /** The shell command that runs `cc-dm wait` (told to the model, to start in the background). */
    private readonly waitCommand: string,
    private readonly now: () => number = Date.now,
  ) {}

  async run(input: GeminiHookInput): Promise<HookAnswer> {
    if (!this.geminiPid) return NOTHING;
    const ref: AgentRef = { agent: 'gemini', pid: this.geminiPid };
    const event = input.hook_event_name ?? '';
    if (event === 'SessionEnd') {
      await this.bus.agentPresence(ref, 'offline');
      return NOTHING;
    }
    if (event === 'Notification') {
      if (input.notification_type === 'ToolPermission') await this.bus.agentPresence(ref, 'approval');
      return NOTHING;
    }
    const found = await this.session(ref, event === 'SessionStart' ? SESSION_WAIT_MS : 0);
    if (!found) return NOTHING;
    const s = await this.bind(ref, input, found);
    await settleClaims(this.bus, s, { reclaimAfterMs: RECLAIM_AFTER_MS, now: this.now() });
    switch (event) {
      case 'SessionStart':
        await this.bus.agentPresence(ref, 'idle');
        return contextAnswer(event, this.identity(s, input));
      case 'BeforeAgent':
      case 'AfterTool': {
        await this.bus.agentPresence(ref, 'working');
        const mail = await claimFramed(this.bus, ref, await this.fresh(ref, s));
        return contextAnswer(event, mail?.text);
      }
      case 'AfterAgent': {
        const now = await this.fresh(ref, s);
        if (!input.stop_hook_active && now.path === 'hook' && now.pending > 0) {
          const reason = `cc-dm: ${now.pending === 1 ? 'a message' : `${now.pending} messages`} for you arrived during this turn; cc-dm adds ${now.pending === 1 ? 'it' : 'them'} to your context now.`;
          return { stdout: JSON.stringify({ decision: 'deny', reason }), exitCode: 0 };
        }
        await this.bus.agentPresence(ref, 'idle');
        return NOTHING;
      }
      default:
        return NOTHING;
    }
  }

  private async session(ref: AgentRef, waitMs: number): Promise<AgentSessionView | undefined> {
    const deadline = this.now() + waitMs;
    let s = await this.bus.agentSession(ref);
    while (!s && this.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      s = await this.bus.agentSession(ref);
    }
    return s;
  }

  private async bind(ref: AgentRef, input: HookInput, s: AgentSessionView): Promise<AgentSessionView> {
    const agentSession = input.session_id ?? s.agent_session;
    const transcript = input.transcript_path ?? s.transcript;
    if (s.path === 'hook' && s.agent_session === agentSession && s.transcript === transcript) return s;
    return (await this.bus.bindAgent({ ref, agentSession: agentSession ?? null, transcript: transcript ?? null, attended: true })) ?? s;
  }

  private async fresh(ref: AgentRef, s: AgentSessionView): Promise<AgentSessionView> {
    return (await this.bus.agentSession(ref)) ?? s;
  }

  private identity(s: AgentSessionView, input: HookInput): string {
    const can = geminiCanWake(this.cfg.geminiDir, input.cwd);
    const wake = can.ok
      ? `To be woken when a message arrives while you are idle, start this command in the background now (run_shell_command with is_background: true), and again each time it has finished: ${this.waitCommand}\nIt waits quietly and ends with one line "cc-dm: new mail ..." when mail waits; cc-dm then adds the mail to that turn.`
      : `cc-dm cannot wake this Gemini CLI while you are idle (that needs its settings ${can.missing.join(' and ')}): mail that comes then waits for your next prompt.`;
    return [
      ...identityLines(s),
      `${FRAMING_NOTE} (Gemini CLI shows them inside <hook_context>, with < and > written as &lt; and &gt;.)`,
      'They reach you with your next prompt, between tool calls, and at the end of your turn.',
      wake,
      TOOLS_NOTE,
      s.pending > 0 ? `${s.pending} message(s) wait for you: they follow with your prompt.` : '',
      input.source === 'resume' ? 'This session was resumed: call history to re-read recent messages if you need them.' : '',
    ]
      .filter(Boolean)
      .join('\n');
  }
}
