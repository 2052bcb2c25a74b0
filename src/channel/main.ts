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
import { loadConfig, type Config } from '../config.js';
import { CcDmError, isCcDmError } from '../errors.js';
import { createLogger, errorText, type Logger } from '../log.js';
import { pidAlive } from '../bus/liveness.js';
import { nearestAgent } from '../procfs.js';
import { Bell } from '../wake/bell.js';
import { pickDoorbellDir, UnixSocketDoorbell } from '../wake/unix-socket.js';
import { FlushingStdioServerTransport } from './flushing-stdio.js';
import { instructions } from './instructions.js';
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

/** Opens the bus and claims this session's name; undefined while the store is unreachable. */
async function startSession(cfg: Config, log: Logger, canPush: boolean): Promise<Session> {
  let bus: Bus | undefined;
  try {
    bus = await openBus(cfg, { log });
    // The agent CLI that started this server (its hooks know it by its pid), if it is one we know.
    const agent = nearestAgent();
    Bell.cleanStale(cfg.home, (pid) => pidAlive(pid, null));
    const s = await Session.start(bus, {
      cwd: process.cwd(),
      canPush,
      client: null,
      agent: agent?.agent ?? null,
      agentPid: agent?.pid ?? null,
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
  let cfg: Config;
  try {
    cfg = loadConfig(env);
  } catch (e) {
    process.stderr.write(`cc-dm: ${errorText(e)}\n`);
    process.exit(2);
  }
  const log = createLogger({ level: cfg.logLevel, file: cfg.logFile, tag: 'cc-dm serve' });

  let session: Session | undefined;
  let shuttingDown = false;
  const shutdown = async (reason: string, code = 0) => {
    if (shuttingDown) return;
    shuttingDown = true;
    log.info(`stopping: ${reason}`);
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
  try {
    adopt(await startSession(cfg, log, pushAtStart));
  } catch (e) {
    if (!isCcDmError(e) || e.code !== 'E_STORE_DOWN') fatal(e);
    storeDown = { since: Date.now(), error: errorText(e) };
    log.error(`${storeDown.error} Serving anyway: tools answer E_STORE_DOWN until it is reachable; retrying with backoff.`);
  }

  // A Claude Code without the channel flag gets mail through the plugin's hooks (if they run).
  const hooks = !pushAtStart && session?.row.agent === 'claude';
  const opts = { canPush: pushAtStart, hooks, relay: cfg.permissionRelay, approver: cfg.permissionApprover };
  const channel = createChannelServer({
    config: cfg,
    log,
    session: () => session,
    unavailable: () =>
      new CcDmError(
        'E_STORE_DOWN',
        `cc-dm cannot work yet: its store was unreachable when this session started (${storeDown?.error ?? 'unknown error'}). It retries in the background; nothing was sent. Try again in a little while.`,
      ),
    instructions: session
      ? instructions(session.name, { ...opts, variantOf: session.row.wanted_name ?? undefined })
      : instructions(cfg.sessionName ?? 'unnamed', opts) +
        '\nThe cc-dm store was unreachable when this session started: tools answer E_STORE_DOWN until it is back, and who then tells you your name.',
  });
  await channel.server.connect(new FlushingStdioServerTransport(process.stdin, process.stdout, channel.fastRequests));
  if (session) {
    const store = session.bus.describeStore();
    log.info(`ready as "${session.name}" (${store.kind} ${store.where}; push ${pushAtStart ? 'on' : 'off until handshake'})`);
    return;
  }
  for (let wait = RETRY_MIN_MS; !session && !shuttingDown; wait = Math.min(wait * 2, RETRY_MAX_MS)) {
    await new Promise((r) => setTimeout(r, wait * (0.75 + Math.random() / 2)));
    if (shuttingDown) return;
    try {
      adopt(await startSession(cfg, log, channel.canPush() ?? pushAtStart));
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
