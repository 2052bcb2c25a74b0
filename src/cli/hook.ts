/**
 * `cc-dm hook session-start`: Claude Code's SessionStart hook (startup, resume, clear, compact).
 * It re-injects the session's cc-dm identity, which a compaction would otherwise lose. The hook
 * finds its own session by the agent process both it and the channel server descend from: the
 * nearest one, so a Claude Code nested in another's tool call names its own session.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { RosterEntry } from '../bus/views.js';
import { ancestors, nearestClaude } from '../procfs.js';
import type { CliContext } from './context.js';

/**
 * The processes whose session is this hook's: its ancestors up to the nearest Claude Code (the
 * one that runs this hook), never beyond. A Claude Code nested inside another's tool call has the
 * outer one among its ancestors too; its session, if its server is not up yet, must not be taken
 * for this one. Without a Claude Code ancestor (another host), the nearest few.
 */
function ownAgents(): number[] {
  const claude = nearestClaude();
  const chain = ancestors(claude ? 64 : 5);
  return claude ? chain.slice(0, chain.indexOf(claude.pid) + 1) : chain;
}

export async function findOwnSession(ctx: CliContext, waitMs: number): Promise<RosterEntry | undefined> {
  const mine = ownAgents();
  const deadline = Date.now() + waitMs;
  for (;;) {
    const s = await ctx.bus.sessionOfAgent(mine);
    if (s || Date.now() >= deadline) return s;
    await sleep(100); // the channel server may still be starting when the hook runs
  }
}

export async function sessionStartContext(ctx: CliContext, source: string): Promise<string> {
  const s = await findOwnSession(ctx, 3000);
  const name = s?.name ?? ctx.cfg.sessionName;
  if (!name) return 'cc-dm: no cc-dm session was found for this Claude Code (is the cc-dm MCP server enabled?).';
  const lines = [
    `cc-dm identity: you are "${name}"${s?.role ? ` (role: ${s.role})` : ''}${s?.project ? ` in project "${s.project}"` : ''} on the cc-dm message bus.`,
    s?.wanted_name ? `(The launch name "${s.wanted_name}" was held by another live session.)` : '',
    'Messages from other sessions arrive as <channel> events with from_session/to_session/message_id attributes. Reply with the cc-dm dm tool (mcp__...__dm), never with the built-in SendMessage. Use who for the roster and history to re-read recent messages.',
  ];
  if (s && s.pending > 0)
    lines.push(`${s.pending} message(s) are waiting for you${s.can_receive_push ? ' and are being pushed' : ': call the inbox tool'}.`);
  if (source === 'compact') lines.push('Your context was just compacted: call history to re-read recent messages if you need them.');
  return lines.filter(Boolean).join('\n');
}
