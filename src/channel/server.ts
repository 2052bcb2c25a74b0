/**
 * The MCP channel server as a value: capabilities, instructions, the tool table, push
 * visibility and the permission relay's notifications, over any transport. The process around
 * it (stdio, signals, exit codes, a store that is down at start) is main.ts; tests run this one
 * in-process over the SDK's linked in-memory transports.
 *
 * Path of a message: tool call -> Session -> bus -> store -> doorbell -> recipient's delivery
 * loop -> notifications/claude/channel.
 */
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { Session } from '../bus/session/session.js';
import { parseArgs, PermissionRequestParams } from '../bus/validate.js';
import type { Config } from '../config.js';
import { CcDmError, codeOf, isCcDmError } from '../errors.js';
import { errorText, type Logger } from '../log.js';
import { VERSION } from '../version.js';
import type { FastRequest } from './flushing-stdio.js';
import type { Host } from './instructions.js';
import { pinRevision, type Negotiated } from './revision.js';
import { listedTools, TOOLS, TOOLS_BY_NAME } from './tools.js';
import { decidePush } from './visibility.js';

const PermissionRequestNotification = z.object({
  method: z.literal('notifications/claude/channel/permission_request'),
  params: PermissionRequestParams,
});

export type ToolResult = { content: { type: 'text'; text: string }[]; isError?: boolean };

/**
 * Claude Code registers its channel-notification handler 10-40 ms after its first tools/list and
 * silently drops pushes that come before (measured: 7 of 10 pushed right after the handshake
 * reached the model, 20 of 20 pushed 50 ms or more after tools/list). So for Claude Code,
 * pushing starts CLAUDE_READY_MS after the first tools/list (or CLAUDE_FALLBACK_MS after the
 * handshake if it never lists tools); mail that arrives meanwhile just waits in the store.
 */
const CLAUDE_READY_MS = 200;
const CLAUDE_FALLBACK_MS = 3_000;

export interface ChannelServerOptions {
  config: Config;
  log: Logger;
  /** The session; undefined while the store is unreachable (tools then answer `unavailable()`). */
  session(): Session | undefined;
  unavailable(): CcDmError;
  instructions: string;
  /** The agent CLI this server runs under, when known: tool descriptions are worded for it. */
  host?: Host | null;
  /**
   * Called with a tool call's `_meta` before the call runs (Codex names the thread there,
   * `threadId`): a Codex server that does not know its thread yet binds it, and its session starts.
   */
  onCall?(meta: Record<string, unknown> | undefined): Promise<void>;
}

export interface ChannelServer {
  server: Server;
  /** Requests a stdio transport may answer itself (FlushingStdioServerTransport), as the server would. */
  fastRequests: ReadonlyMap<string, FastRequest>;
  /** Whether pushes to this client are seen, once its handshake is done (undefined before). */
  canPush(): boolean | undefined;
  /** The MCP revision negotiated with the client (undefined before its initialize). */
  revision(): Negotiated | undefined;
  /** Tells the server a session now exists (after a store that was down came back). */
  sessionStarted(): Promise<void>;
}

function ok(body: object): ToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(body, null, 2) }] };
}

/** A tool failure the model can act on; a remedy is worded for a model calling tools. */
function fail(e: unknown, log: Logger): ToolResult {
  if (!isCcDmError(e)) log.error(`tool failed: ${errorText(e)}`);
  let error = isCcDmError(e) ? e.message : `internal error: ${errorText(e)}`;
  if (isCcDmError(e) && e.details?.retryWith === 'queue_if_unknown') {
    error += ' To queue mail for a session that will start later under this name, call dm again with queue_if_unknown: true.';
  }
  return { content: [{ type: 'text', text: JSON.stringify({ success: false, error, code: codeOf(e) }) }], isError: true };
}

export function createChannelServer(o: ChannelServerOptions): ChannelServer {
  const { config: cfg, log } = o;
  const experimental: Record<string, object> = { 'claude/channel': {} };
  if (cfg.permissionRelay) experimental['claude/channel/permission'] = {};
  const server = new Server(
    { name: 'cc-dm', version: VERSION },
    { capabilities: { tools: {}, experimental }, instructions: o.instructions },
  );
  server.onerror = (e) => log.warn(`protocol: ${errorText(e)}`);
  // Stay on an MCP revision with unsolicited notifications; without one, run channel-less.
  let revision: Negotiated | undefined;
  pinRevision(server, (n) => {
    revision = n;
    if (!n.push)
      log.warn(
        `the client negotiated MCP ${n.negotiated}, which has no path for unsolicited notifications: channel pushes are off for this session; mail waits and is read with the inbox tool`,
      );
    else if (n.requested !== n.negotiated)
      log.info(`the client asked for MCP ${n.requested}; speaking ${n.negotiated} (channel pushes need it)`);
  });

  const target = {
    pushMessage: (content: string, meta: Record<string, string>) =>
      server.notification({ method: 'notifications/claude/channel', params: { content, meta } }),
    pushVerdict: (request_id: string, behavior: string) =>
      server.notification({ method: 'notifications/claude/channel/permission', params: { request_id, behavior } }),
  };

  /** What the client said in its handshake, applied to the session once it is ready to listen. */
  let handshake: { canPush: boolean; client: string | null; active: boolean } | undefined;
  let activation: NodeJS.Timeout | undefined;
  let listed = false;
  const activate = async () => {
    clearTimeout(activation);
    const s = o.session();
    if (!handshake || handshake.active || !s) return;
    handshake.active = true;
    await s.activate(target, handshake.canPush, handshake.client).catch((e) => log.warn(`activate: ${errorText(e)}`));
  };
  server.oninitialized = () => {
    const client = server.getClientVersion();
    const declares = !!(server.getClientCapabilities()?.experimental as Record<string, unknown> | undefined)?.['claude/channel'];
    const canPush = revision?.push !== false && decidePush(cfg.push, declares);
    handshake = { canPush, client: client ? `${client.name} ${client.version}` : null, active: false };
    if (/claude/i.test(client?.name ?? '')) activation = setTimeout(() => void activate(), CLAUDE_FALLBACK_MS);
    else void activate();
  };

  server.setRequestHandler(ListToolsRequestSchema, async () => {
    if (handshake && !handshake.active && !listed) {
      listed = true;
      clearTimeout(activation);
      activation = setTimeout(() => void activate(), CLAUDE_READY_MS);
    }
    return { tools: listedTools(o.host) as never[] };
  });

  const callTool = async (
    name: string,
    args: Record<string, unknown> | undefined,
    meta: Record<string, unknown> | undefined,
  ): Promise<ToolResult> => {
    try {
      await o.onCall?.(meta);
      const s = o.session();
      if (!s) throw o.unavailable();
      const tool = TOOLS_BY_NAME.get(name);
      if (!tool) throw new CcDmError('E_INVALID', `unknown tool "${name}"; cc-dm has ${TOOLS.map((t) => t.name).join(', ')}.`);
      s.touch();
      const body: Record<string, unknown> = { ...(await tool.run(s, parseArgs(tool.args, args, name) as never)) };
      const waiting = name === 'inbox' ? undefined : await s.waitingNote();
      if (waiting) body.mail_waiting = waiting;
      return ok(body);
    } catch (e) {
      return fail(e, log);
    }
  };
  server.setRequestHandler(CallToolRequestSchema, (req) =>
    callTool(req.params.name, req.params.arguments, req.params._meta as Record<string, unknown> | undefined),
  );

  // The same answers without the SDK's per-message validation (flushing-stdio.ts), for params of
  // the shape CallToolRequestSchema takes as it is; any other shape goes to the SDK for its error.
  const fastRequests = new Map<string, FastRequest>([
    ['ping', { accepts: () => true, answer: async () => ({}) }],
    [
      'tools/call',
      {
        accepts: (p) =>
          p !== undefined &&
          typeof p.name === 'string' &&
          p.task === undefined &&
          (p.arguments === undefined || (typeof p.arguments === 'object' && p.arguments !== null && !Array.isArray(p.arguments))),
        answer: (p) =>
          callTool(p!.name as string, p!.arguments as Record<string, unknown> | undefined, p!._meta as Record<string, unknown> | undefined),
      },
    ],
  ]);

  if (cfg.permissionRelay) {
    server.setNotificationHandler(PermissionRequestNotification, async (n) => {
      try {
        const s = o.session();
        if (!s) throw o.unavailable();
        const perm = await s.permissionRequest(n.params);
        log.info(
          `permission request ${perm.request_id} (${perm.tool_name}) recorded${perm.approver_key ? `, relayed to ${perm.approver_key}` : ', waiting for the human'}`,
        );
      } catch (e) {
        log.warn(`permission request: ${errorText(e)}`);
      }
    });
  }

  return {
    server,
    fastRequests,
    canPush: () => handshake?.canPush,
    revision: () => revision,
    sessionStarted: activate,
  };
}
