/**
 * The in-process tier: real channel servers (createChannelServer) driven by the real MCP SDK
 * Client over the SDK's linked in-memory transports, each session with its own bus and store
 * connection, on a real store (a temp SQLite file, or a fresh PostgreSQL database), with one
 * clock the test moves forward: a time to live or a rate limit is backdated, never slept out.
 *
 * Every session runs in the test process, so all of them are alive (their pid and parent are the
 * test's) until closed. What needs a process of its own (lifecycle, signals, stdio, faults,
 * liveness of a killed session, the CLI's own behaviour) stays in the spawned integration tier
 * (world.ts). The human acts through `world.human`, a Bus on the world's store, as the CLI and
 * the console do.
 */
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { Bus } from '../../src/bus/bus.js';
import { openBus } from '../../src/bus/open.js';
import { Session } from '../../src/bus/session/session.js';
import { createChannelServer } from '../../src/channel/server.js';
import { Arrivals } from '../../src/channel/arrivals.js';
import { instructions } from '../../src/channel/instructions.js';
import { OfferingClient, type Pushed } from '../../src/channel/peer.js';
import { loadConfig } from '../../src/config.js';
import { CcDmError } from '../../src/errors.js';
import { createLogger, errorText, type Logger } from '../../src/log.js';
import type { StoreFixture } from './stores.js';

/** A clock the test moves: it runs with real time, and jumps forward when told to. */
export class TestClock {
  private offset = 0;
  readonly now = (): number => Date.now() + this.offset;
  advance(ms: number): void {
    this.offset += ms;
  }
}

export interface InProcOptions {
  /** Extra launch environment (CC_DM_SESSION_ROLE, CC_DM_DM_ALLOWLIST, CC_DM_HOST, ...). */
  env?: Record<string, string>;
  /** Declare the claude/channel capability (default true); false: pushes are not shown, mail waits for inbox. */
  channel?: boolean;
  /** The client's name in its handshake (Claude Code's is "claude-code"). */
  clientName?: string;
  /** The MCP revision the client asks for (default: the SDK's latest). */
  protocolVersion?: string;
  /**
   * Run as a Claude Code session whose agent has this pid (no process needed: hooks find their
   * session by it, and its bell and presence folder are named by it).
   */
  claudePid?: number;
  /**
   * Run as a Codex or Gemini CLI session whose agent has this pid (no process needed); for Codex,
   * a thread already bound (as under the shared daemon), how it is woken, and the `codex` to queue with.
   */
  agent?: {
    agent: 'codex' | 'gemini';
    pid: number;
    thread?: string;
    wake?: 'queue' | 'queue_slow' | 'none';
    codexWake?: { bin: string; env: NodeJS.ProcessEnv; doorbell: string };
  };
}

/** A logger that keeps what a session logged (the spawned tier reads it from stderr); errors also go to stderr. */
function keepingLogger(tag: string, level: 'debug' | 'info' | 'warn' | 'error', keep: (line: string) => void): Logger {
  const levels = { debug: 10, info: 20, warn: 30, error: 40 } as const;
  const stderr = createLogger({ level: 'error', tag });
  const at = (l: keyof typeof levels) => (m: string) => {
    if (levels[l] >= levels[level]) keep(`${l} ${tag}: ${m}\n`);
    if (l === 'error') stderr.error(m);
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export class InProcPeer {
  readonly pushes: Pushed[] = [];
  readonly verdicts: { request_id: string; behavior: string; at: number }[] = [];
  private readonly arrivals = new Arrivals();
  private closing?: Promise<void>;

  constructor(
    readonly client: OfferingClient,
    readonly session: Session,
    private readonly logged: { text: string },
    private readonly teardown: () => Promise<void>,
    readonly server: ReturnType<typeof createChannelServer>,
  ) {}

  get name(): string {
    return this.session.name;
  }

  /** What the session logged (info and above), as a spawned server writes it to stderr. */
  get logText(): string {
    return this.logged.text;
  }

  /** Calls a tool; returns the parsed JSON body and whether it was an error. */
  async call(tool: string, args: Record<string, unknown> = {}): Promise<{ body: any; isError: boolean }> {
    const r = await this.client.callTool({ name: tool, arguments: args });
    const text = (r.content as { type: string; text: string }[])[0]?.text ?? '{}';
    return { body: JSON.parse(text), isError: r.isError === true };
  }

  /** As Peer.waitFor: resolves when `pred` holds over what arrived, or rejects after `ms` naming what is missing. */
  waitFor(pred: (p: InProcPeer) => boolean, ms: number, what: string): Promise<void> {
    return this.arrivals.until(() => pred(this), ms, what, () => `at ${this.name}: ${this.pushes.length} push(es), ${this.verdicts.length} verdict(s)`);
  }

  /** A notification from the client (a permission request, as Claude Code sends it). */
  notify(method: string, params: Record<string, unknown>): Promise<void> {
    return this.client.notification({ method, params } as never);
  }

  /**
   * One heartbeat, now, as the session's timer beats it (tests of liveness across hosts turn the
   * timer off with a long CC_DM_HEARTBEAT_MS and beat by hand, between moves of the clock).
   */
  heartbeat(): Promise<void> {
    return (this.session as unknown as { heartbeat(): Promise<void> }).heartbeat();
  }

  /** Ends the session as its server does when Claude Code closes it. */
  close(): Promise<void> {
    this.closing ??= this.teardown();
    return this.closing;
  }

  /** @internal */
  arrived(n: { method: string; params?: Record<string, unknown> }): void {
    const p = n.params ?? {};
    if (n.method === 'notifications/claude/channel') {
      this.pushes.push({ content: p.content as string, meta: p.meta as Record<string, string>, at: performance.now() });
    } else if (n.method === 'notifications/claude/channel/permission') {
      this.verdicts.push({ request_id: p.request_id as string, behavior: p.behavior as string, at: performance.now() });
    }
    this.arrivals.arrived();
  }
}

export class InProcWorld {
  readonly peers: InProcPeer[] = [];
  /**
   * Holds the event loop open while the world lives, as a server's stdin does for its process:
   * idle PostgreSQL connections are unreferenced, and a test awaiting only them (a pool ending,
   * a query on an idle connection) would otherwise be cancelled as the loop runs empty.
   */
  private readonly keepAlive = setInterval(() => {}, 60_000);

  private constructor(
    /** The clock of every bus in this world. */
    readonly clock: TestClock,
    readonly kind: StoreFixture['kind'],
    readonly home: string,
    readonly env: Record<string, string>,
    /** The human: a bus on the world's store, as the CLI and the console open it (on the world's clock). */
    readonly human: Bus,
    private readonly cleanup: () => Promise<void>,
  ) {}

  static async create(fx: StoreFixture): Promise<InProcWorld> {
    const f = await fx.fresh();
    const clock = new TestClock();
    const cfg = loadConfig({ ...f.env, CC_DM_LOG_LEVEL: 'error' });
    const human = await openBus(cfg, { log: createLogger({ level: 'error', tag: 'inproc human' }), clock: clock.now });
    return new InProcWorld(clock, fx.kind, f.home, f.env, human, f.cleanup);
  }

  /** Starts a session under `name` (from its launch environment; undefined: an automatic name) with its channel server and a client. */
  async start(name: string | undefined, o: InProcOptions = {}): Promise<InProcPeer> {
    const channel = o.channel !== false;
    const cfg = loadConfig({
      ...this.env, ...(name !== undefined ? { CC_DM_SESSION_NAME: name } : {}),
      // Push visibility follows the client's declared capability, whatever process runs the tests
      // (the server would otherwise read the command line of the test's own ancestors).
      CC_DM_PUSH: channel ? 'on' : 'off', ...o.env,
    });
    const logged = { text: '' };
    const log = keepingLogger(`inproc ${name ?? '(auto)'}`, 'info', (l) => { logged.text += l; });
    // A session launched with another CC_DM_HOST stands for one on another machine.
    const bus = await openBus(cfg, { log, clock: this.clock.now, machine: o.env?.CC_DM_HOST ? `inproc:${o.env.CC_DM_HOST}` : undefined });
    let session: Session;
    try {
      session = await Session.start(bus, {
        cwd: process.cwd(), canPush: channel, client: null,
        ...(o.claudePid ? { agent: 'claude' as const, agentPid: o.claudePid } : {}),
        ...(o.agent
          ? {
              agent: o.agent.agent,
              agentPid: o.agent.pid,
              agentSession: o.agent.thread ?? null,
              wake: o.agent.wake ?? (o.agent.agent === 'codex' ? 'queue_slow' : null),
              codexWake: o.agent.codexWake,
            }
          : {}),
      });
    } catch (e) {
      await bus.close();
      throw e;
    }
    session.onError = (e) => log.warn(`background: ${errorText(e)}`);
    const host = o.agent?.agent ?? (o.claudePid ? ('claude' as const) : null);
    const relay = { canPush: channel, hooks: !channel && !!host, relay: cfg.permissionRelay, approver: cfg.permissionApprover, host };
    const server = createChannelServer({
      config: cfg, log, session: () => session, host,
      onCall: async (meta) => {
        if (o.agent?.agent === 'codex' && typeof meta?.threadId === 'string') await session.noteThread(meta.threadId);
      },
      unavailable: () => new CcDmError('E_STORE_DOWN', 'the store is unreachable'),
      instructions: instructions(session.name, { ...relay, variantOf: session.row.wanted_name ?? undefined }),
    });
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    const client = new OfferingClient(
      { name: o.clientName ?? 'cc-dm-inproc', version: '1.0.0' },
      { capabilities: channel ? { experimental: { 'claude/channel': {} } } : {} },
      o.protocolVersion,
    );
    const peer = new InProcPeer(client, session, logged, async () => {
      await client.close().catch(() => {});
      await server.server.close().catch(() => {});
      await session.stop('stdin closed');
      await bus.close();
    }, server);
    client.fallbackNotificationHandler = async (n) => peer.arrived(n as { method: string; params?: Record<string, unknown> });
    await server.server.connect(serverSide);
    await client.connect(clientSide);
    this.peers.push(peer);
    return peer;
  }

  async close(): Promise<void> {
    try {
      await Promise.all(this.peers.map((p) => p.close()));
      await this.human.close();
      await this.cleanup();
    } finally {
      clearInterval(this.keepAlive);
    }
  }
}
