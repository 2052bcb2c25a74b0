/**
 * `cc-dm serve`: the MCP channel server Claude Code spawns over stdio. Only JSON-RPC goes to
 * stdout. Path of a message: tool call -> bus -> store -> doorbell -> recipient's drain ->
 * notifications/claude/channel.
 */
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { FlushingStdioServerTransport } from './flushing-stdio.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { loadConfig, type Config } from '../config.js';
import { CcDmError, isCcDmError } from '../errors.js';
import { createLogger, errorText, type Logger } from '../log.js';
import { Bus } from '../bus/bus.js';
import { Session } from '../bus/session.js';
import {
  BroadcastArgs, DmArgs, HistoryArgs, InboxArgs, parseArgs, PermissionRequestParams, RegisterArgs, StatusArgs, WhoArgs,
} from '../bus/validate.js';
import { openStore } from '../store/open.js';
import { openDoorbell } from '../wake/open.js';
import { UnixSocketDoorbell, doorbellDir } from '../wake/unix-socket.js';
import { instructions } from './instructions.js';
import { TOOLS } from './tools.js';
import { decidePush } from './visibility.js';

const VERSION = '2.0.0';

const PermissionRequestNotification = z.object({
  method: z.literal('notifications/claude/channel/permission_request'),
  params: PermissionRequestParams,
});

type ToolResult = { content: { type: 'text'; text: string }[]; isError?: boolean };

function ok(body: Record<string, unknown>): ToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(body, null, 2) }] };
}

function fail(e: unknown, log: Logger): ToolResult {
  if (!isCcDmError(e)) log.error(`tool failed: ${errorText(e)}`);
  const error = isCcDmError(e) ? e.message : `internal error: ${errorText(e)}`;
  const code = isCcDmError(e) ? e.code : 'E_INTERNAL';
  return { content: [{ type: 'text', text: JSON.stringify({ success: false, error, code }) }], isError: true };
}

export async function serve(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  let cfg: Config;
  try {
    cfg = loadConfig(env);
  } catch (e) {
    process.stderr.write(`cc-dm: ${errorText(e)}\n`);
    process.exit(2);
  }
  const log = createLogger({ level: cfg.logLevel, file: cfg.logFile, tag: 'cc-dm serve' });

  let shuttingDown = false;
  let session: Session | undefined;
  const shutdown = async (reason: string, code = 0) => {
    if (shuttingDown) return;
    shuttingDown = true;
    log.info(`stopping: ${reason}`);
    try { await session?.stop(reason); } catch (e) { log.warn(`stop: ${errorText(e)}`); }
    process.exit(code);
  };
  // No ghost outlives Claude Code: a closed stdin ends the server.
  process.stdin.on('end', () => void shutdown('stdin closed'));
  process.stdin.on('close', () => void shutdown('stdin closed'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGHUP', () => void shutdown('SIGHUP'));
  process.stdout.on('error', () => void shutdown('stdout closed'));

  const store = await openStore(cfg).catch((e) => {
    log.error(errorText(e));
    process.stderr.write(`cc-dm: ${errorText(e)}\n`);
    process.exit(1);
  });
  const bus = new Bus(store, cfg, openDoorbell(cfg, store));

  let server: Server | undefined;
  const target = {
    pushMessage: (content: string, meta: Record<string, string>) =>
      server!.notification({ method: 'notifications/claude/channel', params: { content, meta } }),
    pushVerdict: (request_id: string, behavior: string) =>
      server!.notification({ method: 'notifications/claude/channel/permission', params: { request_id, behavior } }),
  };

  const pushAtStart = decidePush(cfg.push);
  try {
    session = await Session.start(bus, target, { cwd: process.cwd(), canPush: pushAtStart, client: null });
  } catch (e) {
    log.error(errorText(e));
    process.stderr.write(`cc-dm: ${errorText(e)}\n`);
    await store.close();
    process.exit(isCcDmError(e) && e.code === 'E_CONFIG' ? 2 : 1);
  }
  const s = session;
  s.onError = (e) => log.warn(`delivery: ${errorText(e)}`);
  s.onOrphaned = () => void shutdown('parent process gone');
  if (s.row.wanted_name) log.warn(`the name "${s.row.wanted_name}" is held by a live session; running as "${s.name}"`);
  if (store.kind === 'sqlite' && cfg.wake) {
    const open = new Set((await bus.liveSessions()).map((x) => x.doorbell).filter((d): d is string => !!d));
    UnixSocketDoorbell.cleanStale(doorbellDir(cfg.home), open);
  }

  const experimental: Record<string, object> = { 'claude/channel': {} };
  if (cfg.permissionRelay) experimental['claude/channel/permission'] = {};
  server = new Server({ name: 'cc-dm', version: VERSION }, {
    capabilities: { tools: {}, experimental },
    instructions: instructions(s.name, {
      canPush: pushAtStart, relay: cfg.permissionRelay, approver: cfg.permissionApprover, variantOf: s.row.wanted_name ?? undefined,
    }),
  });
  server.onerror = (e) => log.warn(`protocol: ${errorText(e)}`);

  server.oninitialized = () => {
    const client = server!.getClientVersion();
    const declares = !!(server!.getClientCapabilities()?.experimental as Record<string, unknown> | undefined)?.['claude/channel'];
    const canPush = decidePush(cfg.push, declares);
    s.setCanPush(canPush, client ? `${client.name} ${client.version}` : null).catch((e) => log.warn(errorText(e)));
  };

  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: TOOLS as unknown as never[] }));

  server.setRequestHandler(CallToolRequestSchema, async (req): Promise<ToolResult> => {
    const { name, arguments: args } = req.params;
    try {
      s.touch().catch(() => {});
      let body: Record<string, unknown>;
      switch (name) {
        case 'dm': body = { ...(await s.dm(parseArgs(DmArgs, args, 'dm'))) }; break;
        case 'broadcast': body = { ...(await s.broadcast(parseArgs(BroadcastArgs, args, 'broadcast'))) }; break;
        case 'who': parseArgs(WhoArgs, args, 'who'); body = await s.who(); break;
        case 'register': body = await s.register(parseArgs(RegisterArgs, args, 'register')); break;
        case 'status': body = await s.status(parseArgs(StatusArgs, args, 'status').message_id); break;
        case 'history': body = await s.history(parseArgs(HistoryArgs, args, 'history')); break;
        case 'inbox': body = await s.inbox(parseArgs(InboxArgs, args, 'inbox').limit); break;
        default: throw new CcDmError('E_INVALID', `unknown tool "${name}"; cc-dm has ${TOOLS.map((t) => t.name).join(', ')}.`);
      }
      const waiting = name === 'inbox' ? undefined : await s.waitingNote();
      if (waiting) body.mail_waiting = waiting;
      return ok(body);
    } catch (e) {
      return fail(e, log);
    }
  });

  if (cfg.permissionRelay) {
    server.setNotificationHandler(PermissionRequestNotification, async (n) => {
      try {
        const perm = await s.permissionRequest(n.params);
        log.info(`permission request ${perm.request_id} (${perm.tool_name}) recorded${perm.approver_key ? `, relayed to ${perm.approver_key}` : ', waiting for the human'}`);
      } catch (e) {
        log.warn(`permission request: ${errorText(e)}`);
      }
    });
  }

  await server.connect(new FlushingStdioServerTransport());
  log.info(`ready as "${s.name}" (${store.kind} ${store.where}; push ${pushAtStart ? 'on' : 'off until handshake'})`);
}
