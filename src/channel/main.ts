/**
 * `cc-dm serve`: the process an agent CLI spawns over stdio. It owns what a process has: the
 * configuration, stdio, signals and exit codes, and a store that may be down at start. The
 * server itself is createChannelServer (server.ts). Only JSON-RPC goes to stdout.
 *
 * Exit codes: 2 bad configuration; 1 any other failure at start (a refused name, a bad login,
 * a newer schema); 0 on a normal end (stdin closed, a signal, the agent process gone).
 */
import type { Bus } from '../bus/bus.js';
import { openBus } from '../bus/open.js';
import { Session } from '../bus/session/session.js';
import { loadConfig, withoutLaunchIdentity, type Config } from '../config.js';
import { CcDmError, isCcDmError } from '../errors.js';
import { createLogger, errorText, type Logger } from '../log.js';
import { pidAlive } from '../bus/liveness.js';
import { environOf, executableOf, isCodexExec, isSharedCodex, nearestAgent, processStart } from '../procfs.js';
import { Bell } from '../wake/bell.js';
import { CODEX_DOORBELL } from '../wake/codex-queue.js';
import { serversDir, ThreadSlot } from '../wake/codex-threads.js';
import { pickDoorbellDir, UnixSocketDoorbell } from '../wake/unix-socket.js';
import { FlushingStdioServerTransport } from './flushing-stdio.js';
import { instructions, type Host } from './instructions.js';
import { createChannelServer } from './server.js';
import { decidePush } from './visibility.js';

/** Marking the session ended waits at most this long: with the store unreachable, the process still exits. */
const STOP_WAIT_MS = 5_000;
/** Retrying a store that was down at start: 1, 2, 4 ... 30 s, so twenty servers do not hammer it. */
const RETRY_MIN_MS = 1_000;
const RETRY_MAX_MS = 30_000;

function exitCodeFor(e: unknown): number {
  return isCcDmError(e) && e.code === 'E_CONFIG' ? 2 : 1;
}

type AgentProcess = { agent: Host; pid: number; argv: string[] };

/** A Codex thread's name when the launch environment cannot give one: stable, so a resumed thread takes its mailbox back. */
export function codexThreadName(thread: string): string {
  return `codex-${
    thread
      .replace(/[^0-9a-f]/gi, '')
      .slice(-6)
      .toLowerCase() || 'thread'
  }`;
}

/** How this session's server wakes its idle Codex thread: `codex queue` with the binary and environment of the thread's process. */
function codexWake(agent: AgentProcess | undefined) {
  if (agent?.agent !== 'codex' || isCodexExec(agent.argv)) return undefined;
  const bin = executableOf(agent.pid);
  if (!bin) return undefined;
  // The environment of the process that runs the thread: CODEX_HOME (where `codex queue` finds
  // the daemon) is filtered out of an MCP server's own.
  return { bin, env: environOf(agent.pid) ?? {}, doorbell: CODEX_DOORBELL };
}

/** Opens the bus and claims this session's name; undefined while the store is unreachable. */
async function startSession(
  cfg: Config,
  log: Logger,
  canPush: boolean,
  agent: AgentProcess | undefined,
  thread?: { id: string; presence: 'idle' | 'working' },
): Promise<Session> {
  let bus: Bus | undefined;
  try {
    bus = await openBus(cfg, { log });
    Bell.cleanStale(cfg.home, (pid) => pidAlive(pid, null));
    const codex = agent?.agent === 'codex';
    const s = await Session.start(bus, {
      cwd: process.cwd(),
      canPush,
      client: null,
      agent: agent?.agent ?? null,
      agentPid: agent?.pid ?? null,
      ...(codex
        ? {
            wake: isCodexExec(agent.argv) ? ('none' as const) : isSharedCodex(agent.argv) ? ('queue' as const) : ('queue_slow' as const),
            codexWake: codexWake(agent),
          }
        : {}),
      ...(thread ? { agentSession: thread.id, autoName: codexThreadName(thread.id), presence: thread.presence } : {}),
    });
    const store = bus.describeStore();
    if (store.ring === 'sockets' && cfg.wake) {
      // Only in a folder found private to this user: never in one someone else planted.
      const dir = pickDoorbellDir(cfg.home).dir;
      if (dir) UnixSocketDoorbell.cleanStale(dir, await bus.openDoorbells());
    }
    return s;
  } catch (e) {
    await bus?.close().catch(() => {});
    throw e;
  }
}

export async function serve(env?: NodeJS.ProcessEnv): Promise<void> {
  // The agent CLI that started this server, if it is one we know: its hooks know it by its pid,
  // and a Codex thread by its id.
  const agent = nearestAgent();
  // A Codex thread of a shared app-server (the daemon a Codex TUI starts): the environment is the
  // daemon's, so the launch identity in it is not this thread's; the thread names the session.
  const sharedCodex = agent?.agent === 'codex' && isSharedCodex(agent.argv);
  let cfg: Config;
  let dropped: string[] = [];
  try {
    if (sharedCodex) {
      const w = withoutLaunchIdentity(env);
      dropped = w.dropped;
      cfg = loadConfig(w.env);
    } else cfg = loadConfig(env);
  } catch (e) {
    process.stderr.write(`cc-dm: ${errorText(e)}\n`);
    process.exit(2);
  }
  const log = createLogger({ level: cfg.logLevel, file: cfg.logFile, tag: 'cc-dm serve' });
  if (dropped.length)
    log.info(
      `a thread of the shared Codex daemon: ${dropped.join(', ')} not used (the daemon's environment is that of the TUI that started it, not this thread's); the session is named after its thread`,
    );

  let session: Session | undefined;
  let slot: ThreadSlot | undefined;
  let shuttingDown = false;
  const shutdown = async (reason: string, code = 0) => {
    if (shuttingDown) return;
    shuttingDown = true;
    log.info(`stopping: ${reason}`);
    slot?.close();
    const stopped = session?.stop(reason).catch((e) => log.warn(`stop: ${errorText(e)}`));
    await Promise.race([stopped, new Promise((r) => setTimeout(r, STOP_WAIT_MS).unref())]);
    process.exit(code);
  };
  // No ghost outlives its agent: a closed stdin ends the server.
  process.stdin.on('end', () => void shutdown('stdin closed'));
  process.stdin.on('close', () => void shutdown('stdin closed'));
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => void shutdown(sig));
  process.stdout.on('error', () => void shutdown('stdout closed'));

  const fatal = (e: unknown): never => {
    log.error(errorText(e));
    process.stderr.write(`cc-dm: ${errorText(e)}\n`);
    process.exit(exitCodeFor(e));
  };
  const adopt = (s: Session) => {
    session = s;
    s.onError = (e) => log.warn(`background: ${errorText(e)}`);
    s.onOrphaned = () => void shutdown('parent process gone');
    s.onRejoined = (previous, now) =>
      log.warn(
        `this session was ended by another host (no heartbeat within the expiry); joined again, running as "${now}"${now === previous ? '' : ` (was "${previous}")`}`,
      );
    if (s.row.wanted_name) log.warn(`the name "${s.row.wanted_name}" is held by a live session; running as "${s.name}"`);
  };

  // PostgreSQL down at start: the server still answers its client (tools say E_STORE_DOWN) and
  // keeps trying with backoff, instead of exiting (the client would show it failed, and a
  // supervisor would restart it in a loop). Any other error is final.
  const pushAtStart = decidePush(cfg.push);
  let storeDown: { since: number; error: string } | undefined;
  // A Codex thread of the shared daemon waits for its thread (its first prompt's hook, or its
  // first tool call) before it claims a name: src/wake/codex-threads.ts.
  let binding: Promise<void> | undefined;
  const served: { channel?: ReturnType<typeof createChannelServer> } = {};
  const bindThread = (thread: string, by: 'hook' | 'tool call'): Promise<void> => {
    binding ??= (async () => {
      log.info(`bound to Codex thread ${thread} (by its ${by})`);
      adopt(await startSession(cfg, log, false, agent, { id: thread, presence: by === 'hook' ? 'idle' : 'working' }));
      slot?.close();
      await served.channel?.sessionStarted();
    })().catch((e) => {
      binding = undefined;
      throw e;
    });
    return binding;
  };
  if (sharedCodex) {
    slot = new ThreadSlot(serversDir(cfg.home, agent.pid), {
      pid: process.pid,
      pidStart: processStart(process.pid),
      cwd: process.cwd(),
      startedAt: Date.now(),
    });
    slot.open((thread) => void bindThread(thread, 'hook').catch((e) => log.warn(`binding thread ${thread}: ${errorText(e)}`)));
  } else {
    try {
      adopt(await startSession(cfg, log, pushAtStart, agent));
    } catch (e) {
      if (!isCcDmError(e) || e.code !== 'E_STORE_DOWN') fatal(e);
      storeDown = { since: Date.now(), error: errorText(e) };
      log.error(`${storeDown.error} Serving anyway: tools answer E_STORE_DOWN until it is reachable; retrying with backoff.`);
    }
  }

  // A Claude Code without the channel flag gets mail through the plugin's hooks (if they run);
  // Codex and Gemini CLI always through theirs.
  const host: Host | null = agent?.agent ?? null;
  const hooks = !pushAtStart && !!host;
  const opts = {
    canPush: pushAtStart && (!host || host === 'claude'),
    hooks,
    relay: cfg.permissionRelay,
    approver: cfg.permissionApprover,
    host,
  };
  const channel = createChannelServer({
    config: cfg,
    log,
    host,
    session: () => session,
    unavailable: () =>
      sharedCodex && !storeDown
        ? new CcDmError('E_STORE_DOWN', 'cc-dm has not connected this Codex thread yet; try the call again in a moment.')
        : new CcDmError(
            'E_STORE_DOWN',
            `cc-dm cannot work yet: its store was unreachable when this session started (${storeDown?.error ?? 'unknown error'}). It retries in the background; nothing was sent. Try again in a little while.`,
          ),
    onCall: async (meta) => {
      const thread = typeof meta?.threadId === 'string' ? meta.threadId : undefined;
      if (!thread || agent?.agent !== 'codex') return;
      if (slot && !session) {
        // The call names the thread: that is the truth, even over a hook's guess.
        const hooked = slot.bindSelf(thread);
        if (hooked) log.warn(`a hook bound thread ${hooked}, but the tool calls come from thread ${thread}: using ${thread}`);
        await bindThread(thread, 'tool call');
      } else if (session && session.row.agent_session !== thread) {
        if (slot) log.warn(`a tool call from thread ${thread}, but this server serves thread ${session.row.agent_session}`);
        else await session.noteThread(thread);
      }
    },
    instructions: sharedCodex
      ? instructions(undefined, opts)
      : session
        ? instructions(session.name, { ...opts, variantOf: session.row.wanted_name ?? undefined })
        : instructions(cfg.sessionName ?? 'unnamed', opts) +
          '\nThe cc-dm store was unreachable when this session started: tools answer E_STORE_DOWN until it is back, and who then tells you your name.',
  });
  served.channel = channel;
  await channel.server.connect(new FlushingStdioServerTransport(process.stdin, process.stdout, channel.fastRequests));
  if (sharedCodex) {
    log.info(`ready; waiting for its Codex thread (daemon ${agent.pid})`);
    return;
  }
  if (session) {
    const store = session.bus.describeStore();
    log.info(`ready as "${session.name}" (${store.kind} ${store.where}; push ${pushAtStart ? 'on' : 'off until handshake'})`);
    return;
  }
  for (let wait = RETRY_MIN_MS; !session && !shuttingDown; wait = Math.min(wait * 2, RETRY_MAX_MS)) {
    await new Promise((r) => setTimeout(r, wait * (0.75 + Math.random() / 2)));
    if (shuttingDown) return;
    try {
      adopt(await startSession(cfg, log, channel.canPush() ?? pushAtStart, agent));
    } catch (e) {
      if (!isCcDmError(e) || e.code !== 'E_STORE_DOWN') fatal(e);
      storeDown!.error = errorText(e);
      log.warn(`store still unreachable, next try in about ${Math.round(Math.min(wait * 2, RETRY_MAX_MS) / 1000)} s: ${storeDown!.error}`);
      continue;
    }
    await channel.sessionStarted();
    const s = session!;
    const store = s.bus.describeStore();
    log.info(
      `store reachable after ${Math.round((Date.now() - storeDown!.since) / 1000)} s: ready as "${s.name}" (${store.kind} ${store.where})`,
    );
    if (cfg.sessionName && s.name !== cfg.sessionName)
      log.warn(`the instructions named this session "${cfg.sessionName}", but it runs as "${s.name}"`);
  }
}
