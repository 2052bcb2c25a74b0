/**
 * Codex CLI's hooks (`$CODEX_HOME/hooks.json`, Claude Code's shape), measured with Codex 0.171.0
 * (test/e2e/AGENT-CLIS.md). One command, `cc-dm hook codex`, for every event; the event is the
 * input's `hook_event_name`, the session its thread (`session_id`, the same id as a tool call's
 * `_meta.threadId`):
 *
 *   SessionStart      (at a thread's first prompt) bind the thread to its session; the identity
 *   UserPromptSubmit  mail that waits, as additionalContext (a developer message): the next prompt,
 *                     and the turn a wake started (the queued doorbell is its prompt)
 *   PostToolUse       mail that came during the turn, between tool calls
 *   Stop              mail that came during the turn's last step: {"decision":"block","reason"}
 *                     continues the turn with it (a user message); once per turn
 *                     (stop_hook_active), so a stream of mail cannot keep a turn alive
 *   PermissionRequest presence: waiting for approval
 *   SessionEnd        presence: offline (the thread ended; its server is stopped with it)
 *
 * Every event also reports presence (working / idle) and settles earlier claims against the
 * rollout file (transcript_path). A hook never breaks its agent: an unknown session answers
 * nothing.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Bus } from '../bus/bus.js';
import type { AgentRef, AgentSessionView } from '../bus/hook.js';
import type { Config } from '../config.js';
import { pidAlive } from '../bus/liveness.js';
import { isSharedCodex } from '../procfs.js';
import { CODEX_DOORBELL } from '../wake/codex-queue.js';
import { bindThread } from '../wake/codex-threads.js';

export { CODEX_DOORBELL };
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

/** A thread's first hook may run while its server is still starting its session: wait this long. */
const SESSION_WAIT_MS = 3_000;

export interface CodexProcess {
  pid: number;
  argv: string[];
}

export class CodexHooks {
  constructor(
    private readonly bus: Bus,
    private readonly cfg: Config,
    /** The Codex process running this hook (a TUI, `codex exec`, or the shared app-server daemon). */
    private readonly codex: CodexProcess | undefined,
    private readonly now: () => number = Date.now,
  ) {}

  private refOf(input: HookInput): AgentRef | undefined {
    return this.codex ? { agent: 'codex', pid: this.codex.pid, thread: input.session_id ?? null } : undefined;
  }

  async run(input: HookInput): Promise<HookAnswer> {
    const ref = this.refOf(input);
    if (!ref) return NOTHING;
    const event = input.hook_event_name ?? '';
    if (event === 'SessionEnd') {
      await this.bus.agentPresence(ref, 'offline');
      return NOTHING;
    }
    if (event === 'PermissionRequest') {
      await this.bus.agentPresence(ref, 'approval');
      return NOTHING;
    }
    const found = await this.session(ref, input, event === 'SessionStart' || event === 'UserPromptSubmit' ? SESSION_WAIT_MS : 0);
    if (!found) {
      // A thread of the shared daemon whose server could not be told apart from another's: its
      // first cc-dm tool call connects it (the call names the thread).
      if (event === 'SessionStart' && ref.thread && this.shared)
        return contextAnswer(
          event,
          "cc-dm: this Codex thread is not connected to its cc-dm session yet. Call cc-dm's who tool once (the call tells cc-dm which thread you are); messages from other sessions then reach you.",
        );
      return NOTHING;
    }
    const s = await this.bind(ref, input, found);
    await settleClaims(this.bus, s, { reclaimAfterMs: RECLAIM_AFTER_MS, now: this.now() });
    switch (event) {
      case 'SessionStart':
        return contextAnswer(event, this.identity(s, input.source));
      case 'UserPromptSubmit':
      case 'PostToolUse': {
        await this.bus.agentPresence(ref, 'working');
        const mail = await claimFramed(this.bus, ref, await this.fresh(ref, s));
        const woke = event === 'UserPromptSubmit' && input.prompt?.trim() === CODEX_DOORBELL;
        const lead = woke ? 'cc-dm started this turn because a message arrived for you while you were idle.\n\n' : '';
        return contextAnswer(event, mail && lead + mail.text);
      }
      case 'Stop': {
        if (!input.stop_hook_active) {
          const mail = await claimFramed(this.bus, ref, await this.fresh(ref, s));
          if (mail) return { stdout: JSON.stringify({ decision: 'block', reason: mail.text }), exitCode: 0 };
        }
        await this.bus.agentPresence(ref, 'idle');
        return NOTHING;
      }
      default:
        return NOTHING;
    }
  }

  private get shared(): boolean {
    return !!this.codex && isSharedCodex(this.codex.argv);
  }

  /**
   * The thread's session. Under a shared app-server a thread's server waits for its thread (a
   * slot, src/wake/codex-threads.ts): the hook binds it, when exactly one can be it, and waits for
   * the session it then starts.
   */
  private async session(ref: AgentRef, input: HookInput, waitMs: number): Promise<AgentSessionView | undefined> {
    let s = await this.bus.agentSession(ref);
    if (s || !ref.thread) return s;
    if (this.shared) {
      const bound = bindThread(this.cfg.home, ref.pid, ref.thread, input.cwd, (pid, start) => pidAlive(pid, start));
      if (bound === undefined && waitMs === 0) return undefined;
    }
    const deadline = this.now() + waitMs;
    while (!s && this.now() < deadline) {
      await sleep(100);
      s = await this.bus.agentSession(ref);
    }
    return s;
  }

  /** Records the thread and its rollout on the session (once: a thread's hooks all carry the same). */
  private async bind(ref: AgentRef, input: HookInput, s: AgentSessionView): Promise<AgentSessionView> {
    const transcript = input.transcript_path ?? s.transcript;
    if (s.path === 'hook' && s.agent_session === (ref.thread ?? null) && s.transcript === transcript) return s;
    return (
      (await this.bus.bindAgent({ ref, agentSession: ref.thread ?? s.agent_session, transcript: transcript ?? null, attended: true })) ?? s
    );
  }

  /** The session as it is now (mail may have come while this hook ran). */
  private async fresh(ref: AgentRef, s: AgentSessionView): Promise<AgentSessionView> {
    return (await this.bus.agentSession(ref)) ?? s;
  }

  private identity(s: AgentSessionView, source: string | undefined): string {
    const wake =
      s.wake === 'queue' || s.wake === 'queue_slow'
        ? `When you are idle and mail arrives, cc-dm starts a turn for you with the prompt "${CODEX_DOORBELL}"${s.wake === 'queue_slow' ? ' (this Codex runs in-process and polls its queue: about ten seconds)' : ''}.`
        : 'cc-dm cannot start a turn for you while you are idle here: mail that comes then waits for your next prompt.';
    return [
      ...identityLines(s),
      FRAMING_NOTE,
      `They reach you with your next prompt, between tool calls, and at the end of your turn. ${wake}`,
      TOOLS_NOTE,
      s.pending > 0 ? `${s.pending} message(s) wait for you: they follow with your prompt.` : '',
      source === 'resume' ? 'This thread was resumed: call history to re-read recent messages if you need them.' : '',
    ]
      .filter(Boolean)
      .join('\n');
  }
}
