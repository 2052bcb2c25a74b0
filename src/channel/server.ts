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
import type { Store } from '../store/types.js';
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

/** A doorbell with a connection of its own (LISTEN) says when it loses it and gets it back. */
function watchDoorbell(doorbell: object, log: Logger): void {
  if (!('onStateChange' in doorbell)) return;
  let lostAt: number | undefined;
  (doorbell as { onStateChange: (state: 'listening' | 'lost', detail?: string) => void }).onStateChange = (state, detail) => {
    if (state === 'lost') {
      lostAt ??= Date.now();
      log.warn(`doorbell: LISTEN connection lost (${detail ?? 'unknown'}); reconnecting, the poll delivers meanwhile`);
    } else if (lostAt !== undefined) {
      log.info(`doorbell: LISTEN re-established after ${Date.now() - lostAt} ms; reading the mailbox`);
      lostAt = undefined;
    }
  };
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
    // Marking the session ended waits at most 5 s: with the store unreachable, the process still
    // exits promptly (liveness then finds it dead by its pid, or by its stale heartbeat).
    const stopped = session?.stop(reason).catch((e) => log.warn(`stop: ${errorText(e)}`));
    await Promise.race([stopped, new Promise((r) => setTimeout(r, 5_000).unref())]);
    process.exit(code);
  };
  // No ghost outlives Claude Code: a closed stdin ends the server.
  process.stdin.on('end', () => void shutdown('stdin closed'));
  process.stdin.on('close', () => void shutdown('stdin closed'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGHUP', () => void shutdown('SIGHUP'));
  process.stdout.on('error', () => void shutdown('stdout closed'));

  let server: Server | undefined;
  const target = {
    pushMessage: (content: string, meta: Record<string, string>) =>
      server!.notification({ method: 'notifications/claude/channel', params: { content, meta } }),
    pushVerdict: (request_id: string, behavior: string) =>
      server!.notification({ method: 'notifications/claude/channel/permission', params: { request_id, behavior } }),
  };
  const pushAtStart = decidePush(cfg.push);
  /** What the client said in its handshake, applied when the session starts after it. */
  let handshake: { canPush: boolean; client: string | null; active: boolean } | undefined;

  const isDown = (e: unknown) => isCcDmError(e) && e.code === 'E_STORE_DOWN';
  const fatal = async (e: unknown, store?: Store): Promise<never> => {
    log.error(errorText(e));
    process.stderr.write(`cc-dm: ${errorText(e)}\n`);
    await store?.close();
    process.exit(isCcDmError(e) && e.code === 'E_CONFIG' ? 2 : 1);
  };

  // PostgreSQL down at start: the server still answers Claude Code (tools say E_STORE_DOWN) and
  // keeps trying with backoff, instead of exiting (Claude Code would show it failed, and a
  // supervisor would restart it in a loop). Any other error (refused name, bad login, newer
  // schema) is final, as before.
  let storeDown: { since: number; error: string } | undefined;
  /** Opens the store and claims this session's name; undefined while the store is unreachable. */
  const tryStart = async (): Promise<Session | undefined> => {
    let store: Store | undefined;
    try {
      store = await openStore(cfg);
      const doorbell = openDoorbell(cfg, store);
      watchDoorbell(doorbell, log);
      const started = await Session.start(new Bus(store, cfg, doorbell), target, { cwd: process.cwd(), canPush: pushAtStart, client: null });
      session = started;
      started.onError = (e) => log.warn(`delivery: ${errorText(e)}`);
      started.onOrphaned = () => void shutdown('parent process gone');
      started.onRejoined = (previous, now) => log.warn(`this session was ended by another host (no heartbeat within the expiry); joined again, running as "${now}"${now === previous ? '' : ` (was "${previous}")`}`);
      if (started.row.wanted_name) log.warn(`the name "${started.row.wanted_name}" is held by a live session; running as "${started.name}"`);
      if (store.kind === 'sqlite' && cfg.wake) {
        const open = new Set((await started.bus.liveSessions()).map((x) => x.doorbell).filter((d): d is string => !!d));
        UnixSocketDoorbell.cleanStale(doorbellDir(cfg.home), open);
      }
      return started;
    } catch (e) {
      if (!isDown(e)) return fatal(e, store);
      await store?.close();
      storeDown = { since: storeDown?.since ?? Date.now(), error: errorText(e) };
      return undefined;
    }
  };

  let s = await tryStart();
  if (!s) log.error(`${storeDown!.error} Serving anyway: tools answer E_STORE_DOWN until it is reachable; retrying with backoff.`);
  const current = (): Session => {
    if (s) return s;
    throw new CcDmError('E_STORE_DOWN', `cc-dm cannot work yet: its store was unreachable when this session started (${storeDown?.error ?? 'unknown error'}). It retries in the background; nothing was sent. Try again in a little while.`);
  };

  const experimental: Record<string, object> = { 'claude/channel': {} };
  if (cfg.permissionRelay) experimental['claude/channel/permission'] = {};
  server = new Server({ name: 'cc-dm', version: VERSION }, {
    capabilities: { tools: {}, experimental },
    instructions: s
      ? instructions(s.name, { canPush: pushAtStart, relay: cfg.permissionRelay, approver: cfg.permissionApprover, variantOf: s.row.wanted_name ?? undefined })
      : instructions(cfg.sessionName ?? 'unnamed', { canPush: pushAtStart, relay: cfg.permissionRelay, approver: cfg.permissionApprover })
        + '\nThe cc-dm store was unreachable when this session started: tools answer E_STORE_DOWN until it is back, and who then tells you your name.',
  });
  server.onerror = (e) => log.warn(`protocol: ${errorText(e)}`);

  // Claude Code registers its channel-notification handler 10-40 ms after its first tools/list and
  // silently drops pushes that come before (measured: 7 of 10 pushed right after the handshake
  // reached the model, 20 of 20 pushed 50 ms or more after tools/list). So for Claude Code,
  // pushing starts CLAUDE_READY_MS after the first tools/list (or CLAUDE_FALLBACK_MS after the
  // handshake if it never lists tools); mail that arrives meanwhile just waits in the store.
  const CLAUDE_READY_MS = 200;
  const CLAUDE_FALLBACK_MS = 3_000;
  let activation: NodeJS.Timeout | undefined;
  let listed = false;
  const activate = () => {
    clearTimeout(activation);
    if (!handshake || handshake.active) return;
    handshake.active = true;
    s?.setCanPush(handshake.canPush, handshake.client).catch((e) => log.warn(errorText(e)));
  };
  server.oninitialized = () => {
    const client = server!.getClientVersion();
    const declares = !!(server!.getClientCapabilities()?.experimental as Record<string, unknown> | undefined)?.['claude/channel'];
    handshake = { canPush: decidePush(cfg.push, declares), client: client ? `${client.name} ${client.version}` : null, active: false };
    if (/claude/i.test(client?.name ?? '')) activation = setTimeout(activate, CLAUDE_FALLBACK_MS);
    else activate();
  };

  server.setRequestHandler(ListToolsRequestSchema, async () => {
    if (handshake && !handshake.active && !listed) {
      listed = true;
      clearTimeout(activation);
      activation = setTimeout(activate, CLAUDE_READY_MS);
    }
    return { tools: TOOLS as unknown as never[] };
  });

  server.setRequestHandler(CallToolRequestSchema, async (req): Promise<ToolResult> => {
    const { name, arguments: args } = req.params;
    try {
      const s = current();
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
        const perm = await current().permissionRequest(n.params);
        log.info(`permission request ${perm.request_id} (${perm.tool_name}) recorded${perm.approver_key ? `, relayed to ${perm.approver_key}` : ', waiting for the human'}`);
      } catch (e) {
        log.warn(`permission request: ${errorText(e)}`);
      }
    });
  }

  await server.connect(new FlushingStdioServerTransport());
  if (s) {
    log.info(`ready as "${s.name}" (${s.bus.store.kind} ${s.bus.store.where}; push ${pushAtStart ? 'on' : 'off until handshake'})`);
    return;
  }
  // Backoff 1, 2, 4 ... 30 s: twenty servers waiting for one database do not hammer it.
  for (let wait = 1_000; !s && !shuttingDown; wait = Math.min(wait * 2, 30_000)) {
    await new Promise((r) => setTimeout(r, wait * (0.75 + Math.random() / 2)));
    if (shuttingDown) return;
    s = await tryStart();
    if (!s) {
      log.warn(`store still unreachable, next try in about ${Math.round(Math.min(wait * 2, 30_000) / 1000)} s: ${storeDown!.error}`);
      continue;
    }
    if (handshake?.active) await s.setCanPush(handshake.canPush, handshake.client).catch((e) => log.warn(errorText(e)));
    log.info(`store reachable after ${Math.round((Date.now() - storeDown!.since) / 1000)} s: ready as "${s.name}" (${s.bus.store.kind} ${s.bus.store.where})`);
    if (cfg.sessionName && s.name !== cfg.sessionName) log.warn(`the instructions named this session "${cfg.sessionName}", but it runs as "${s.name}"`);
  }
}
