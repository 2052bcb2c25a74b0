/**
 * Claude Code's hooks: the hook path (docs/design.md, "Delivery paths"), measured with Claude
 * Code 2.1.332 (test/e2e/HOOKS-FACTS.md). One command per event, `cc-dm hook <event>`:
 *
 *   session-start  SessionStart (sync): bind the agent's session id and transcript to its cc-dm
 *                  session; queue again what a dead instance claimed but never showed; answer
 *                  with the identity and `watchPaths: [bell]`.
 *   drain          SessionStart (asyncRewake): mail that waited for this session.
 *   file-changed   FileChanged (asyncRewake): the bell rang; claim and deliver.
 *   confirm        UserPromptSubmit (async) and Stop: confirm what reached the model; at Stop,
 *                  ring again if mail still waits (a lost ring).
 *
 * Delivery = the framed text on stdout, nothing on stderr (stderr would replace it), exit 2:
 * Claude Code queues it as a task notification, which starts a turn when the session is idle and
 * joins the running turn right after the current tool's result when it is busy. Under claude -p
 * (CLAUDE_CODE_SESSION_ATTENDED=0) an asyncRewake hook runs in the foreground, so these exit at
 * once and the mail stays queued for the inbox tool.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Bus } from '../bus/bus.js';
import type { AgentRef, AgentSessionView } from '../bus/hook.js';
import type { Config } from '../config.js';
import { nearestClaude } from '../procfs.js';
import { Bell, agentDir } from '../wake/bell.js';
import { NOTHING, settleClaims, transcriptSize, type HookAnswer, type HookInput } from './agent-hooks.js';
import { frameMessage, frameWake, PREAMBLE_ALLOWANCE, WAKE_BUDGET } from './framing.js';

export type { HookAnswer, HookInput };
export { transcriptSince } from './agent-hooks.js';

/** SessionStart may run before the server has claimed its session: wait this long for it. */
const SERVER_WAIT_MS = 3_000;
/** additionalContext is inline up to 10,000 characters (measured); keep the identity well under. */
const CONTEXT_MAX = 9_000;

export class ClaudeHooks {
  /**
   * The Claude Code running this hook: CLAUDE_PID, which it sets for hooks (after /clear its
   * session id changes, this does not); else the nearest Claude Code among this process's
   * ancestors, never an outer one beyond it.
   */
  private readonly agentPid: number | undefined;

  constructor(
    private readonly bus: Bus,
    private readonly cfg: Config,
  ) {
    this.agentPid = cfg.claudeHook.pid ?? nearestClaude()?.pid;
  }

  private get ref(): AgentRef | undefined {
    return this.agentPid ? { agent: 'claude', pid: this.agentPid } : undefined;
  }

  private bell(): Bell | undefined {
    return this.agentPid ? new Bell(agentDir(this.cfg.home, this.agentPid)) : undefined;
  }

  async run(event: string, input: HookInput): Promise<HookAnswer> {
    switch (event) {
      case 'session-start':
        return this.sessionStart(input);
      case 'drain':
        return this.deliver(SERVER_WAIT_MS);
      case 'file-changed':
        return this.fileChanged(input);
      case 'confirm':
        return this.confirm(input);
      default:
        return NOTHING;
    }
  }

  /** The session of this Claude Code, waiting a little for a server that is still starting. */
  private async session(waitMs: number): Promise<AgentSessionView | undefined> {
    const ref = this.ref;
    if (!ref) return undefined;
    const deadline = Date.now() + waitMs;
    for (;;) {
      const s = await this.bus.agentSession(ref);
      if (s || Date.now() >= deadline) return s;
      await sleep(100);
    }
  }

  private async sessionStart(input: HookInput): Promise<HookAnswer> {
    const pid = this.agentPid;
    const found = await this.session(SERVER_WAIT_MS);
    if (!pid || !found) return this.answerStart(undefined, input.source);
    // Claims made before a /clear are confirmed against the transcript they were shown in.
    await settleClaims(this.bus, found);
    const s = await this.bus.bindAgent({
      ref: { agent: 'claude', pid },
      wake: 'bell',
      agentSession: input.session_id ?? this.cfg.claudeHook.sessionId ?? null,
      transcript: input.transcript_path ?? null,
      attended: this.cfg.claudeHook.attended,
    });
    return this.answerStart(s, input.source);
  }

  private answerStart(s: AgentSessionView | undefined, source: string | undefined): HookAnswer {
    const name = s?.name ?? this.cfg.sessionName;
    const out: Record<string, unknown> = { hookEventName: 'SessionStart' };
    if (!name) {
      out.additionalContext = 'cc-dm: no cc-dm session was found for this Claude Code (is the cc-dm MCP server enabled?).';
      return { stdout: JSON.stringify({ hookSpecificOutput: out }), exitCode: 0 };
    }
    const how =
      s?.path === 'channel'
        ? 'Messages from other sessions arrive as <channel> events with from_session/to_session/message_id attributes.'
        : s?.path === 'hook'
          ? 'Messages from other sessions arrive as cc-dm notifications ("cc-dm message <id> from <name>", the text between two lines with a random code); they wake you when you are idle.'
          : 'Messages from other sessions wait in your cc-dm mailbox: call the inbox tool to read them (tool results say when mail waits).';
    const lines = [
      `cc-dm identity: you are "${name}"${s?.role ? ` (role: ${s.role})` : ''}${s?.project ? ` in project "${s.project}"` : ''} on the cc-dm message bus.`,
      s?.wanted_name ? `(The launch name "${s.wanted_name}" was held by another live session.)` : '',
      how,
      'Reply with the cc-dm dm tool (mcp__...__dm), never with the built-in SendMessage. Use who for the roster and history to re-read recent messages.',
      s && s.pending > 0
        ? `${s.pending} message(s) are waiting for you${s.path === 'pull' ? ': call the inbox tool' : ' and are on their way'}.`
        : '',
      source === 'compact' ? 'Your context was just compacted: call history to re-read recent messages if you need them.' : '',
    ];
    out.additionalContext = lines.filter(Boolean).join('\n').slice(0, CONTEXT_MAX);
    const bell = this.bell();
    if (s?.path === 'hook' && bell) {
      bell.prepare();
      out.watchPaths = [bell.path];
    }
    return { stdout: JSON.stringify({ hookSpecificOutput: out }), exitCode: 0 };
  }

  private async fileChanged(input: HookInput): Promise<HookAnswer> {
    const bell = this.bell();
    if (!bell || input.file_path !== bell.path) return NOTHING;
    if (input.event === 'unlink') {
      // A deleted watched file ends Claude Code's watch unless the answer changes the list.
      bell.prepare();
      const watchPaths = [bell.path, `${bell.path}.rewatch-${Date.now()}`];
      return { stdout: JSON.stringify({ hookSpecificOutput: { hookEventName: 'FileChanged', watchPaths } }), exitCode: 0 };
    }
    return this.deliver(0);
  }

  /**
   * Claims what waits, frames it, and hands it to the model (exit 2); rings again if more waits.
   * At start it runs beside session-start, so it waits (up to `bindWaitMs`) for the session to be
   * bound to its path.
   */
  private async deliver(bindWaitMs: number): Promise<HookAnswer> {
    const ref = this.ref;
    if (!ref || !this.cfg.claudeHook.attended) return NOTHING;
    const deadline = Date.now() + bindWaitMs;
    let s = await this.bus.agentSession(ref);
    while ((!s || s.path === 'pull') && Date.now() < deadline) {
      await sleep(100);
      s = await this.bus.agentSession(ref);
    }
    if (!s || s.path !== 'hook') return NOTHING;
    const r = await this.bus.claimForAgent(ref, {
      budget: WAKE_BUDGET - PREAMBLE_ALLOWANCE,
      size: (m, code) => frameMessage(m, s.name, code).length + 2,
      offset: transcriptSize(s.transcript),
    });
    const bell = this.bell();
    if (r.more) bell?.ring();
    if (r.claimed.length === 0) return NOTHING;
    bell?.markClaims();
    return { stdout: frameWake(s.name, r.claimed), exitCode: 2 };
  }

  private async confirm(input: HookInput): Promise<HookAnswer> {
    const ref = this.ref;
    if (!ref) return NOTHING;
    const bell = this.bell();
    bell?.looking();
    const s = await this.bus.agentSession(ref);
    if (!s) return NOTHING;
    // Confirms the claims whose code the model has seen (in a woken turn's prompt, or in the
    // transcript after the claim), and queues again those of a Claude Code that is gone without
    // showing them. A claim of a live Claude Code that is not seen yet stays as it is: Claude Code
    // may hold a rewake's text queued while it works.
    if ((await settleClaims(this.bus, s, { prompt: input.prompt })) > 0) bell?.markClaims();
    // A ring lost on the way (or mail that came while the hook ran): look again.
    if (input.hook_event_name === 'Stop' && s.path === 'hook' && s.pending > 0) bell?.ring();
    return NOTHING;
  }
}
