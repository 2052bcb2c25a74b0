/**
 * The tools, as one table: name, what the model is told, the argument schema (the zod schema of
 * bus/validate.ts, listed as JSON Schema derived from it), and what a call does. The names and
 * arguments of cc-dm 1.3 are kept; status, history and inbox are added.
 */
import type { z } from 'zod';
import { zodToJsonSchema } from 'zod-to-json-schema';
import type { Session } from '../bus/session/session.js';
import type { Host } from './instructions.js';
import { BroadcastArgs, DmArgs, HistoryArgs, InboxArgs, RegisterArgs, StatusArgs, WhoArgs } from '../bus/validate.js';

export interface Tool {
  name: string;
  /** What the model is told, in the words of its host (no <channel> or SendMessage talk for Codex or Gemini CLI). */
  description: string | ((host: Host | null | undefined) => string);
  args: z.ZodTypeAny;
  run(session: Session, args: never): Promise<object>;
}

/** A table entry whose handler is typed by its schema. */
function tool<S extends z.ZodTypeAny>(
  name: string,
  description: Tool['description'],
  args: S,
  run: (s: Session, a: z.infer<S>) => Promise<object>,
): Tool {
  return { name, description, args, run: run as Tool['run'] };
}

export const TOOLS: readonly Tool[] = [
  tool(
    'dm',
    (host) =>
      !host || host === 'claude'
        ? "Send a direct message to another cc-dm session by name. It lands in that session's context as a <channel> event, or waits in its mailbox if it is not running. Use this (not the built-in SendMessage) for cc-dm sessions."
        : "Send a direct message to another cc-dm session (Claude Code, Codex or Gemini CLI) by name. It reaches that session's model (woken if it is idle), or waits in its mailbox if it is not running; the result says when it will be seen.",
    DmArgs,
    (s, a) => s.dm(a),
  ),
  tool('broadcast', 'Send a message to every other live cc-dm session in your project scope.', BroadcastArgs, (s, a) => s.broadcast(a)),
  tool(
    'who',
    'List the live cc-dm sessions (name, role, project, agent, delivery path, presence, how an idle one is woken, working directory, last activity) and the mailboxes of sessions that are down.',
    WhoArgs,
    (s) => s.who(),
  ),
  tool(
    'register',
    "Rename this session and/or set its role and project. The old name is released. A name held by a live session, reserved by the human, or kept as an ended session's mailbox cannot be taken.",
    RegisterArgs,
    (s, a) => s.register(a),
  ),
  tool(
    'status',
    'Where is a message you sent or received: per recipient, queued / delivered / replied / expired, with times.',
    StatusArgs,
    (s, a) => s.status(a.message_id),
  ),
  tool(
    'history',
    'Re-read your recent messages (sent and received), optionally with one peer, in one thread, or matching words. Useful after a compaction.',
    HistoryArgs,
    (s, a) => s.history(a),
  ),
  tool(
    'inbox',
    (host) =>
      !host || host === 'claude'
        ? 'Read messages waiting for you (needed when this Claude Code does not show channel pushes); they are marked delivered.'
        : "Read messages waiting for you now, if cc-dm's notes did not show them to you (tool results say when mail waits); they are marked delivered.",
    InboxArgs,
    (s, a) => s.inbox(a.limit),
  ),
];

export const TOOLS_BY_NAME: ReadonlyMap<string, Tool> = new Map(TOOLS.map((t) => [t.name, t]));

/** The tools as tools/list gives them: JSON Schema derived from the zod schemas. */
export function listedTools(host?: Host | null): { name: string; description: string; inputSchema: Record<string, unknown> }[] {
  return TOOLS.map((t) => {
    const { $schema: _, ...inputSchema } = zodToJsonSchema(t.args, { $refStrategy: 'none', target: 'jsonSchema7' }) as Record<
      string,
      unknown
    >;
    return { name: t.name, description: typeof t.description === 'string' ? t.description : t.description(host), inputSchema };
  });
}
