/**
 * The in-process tier: real channel servers (createChannelServer) driven by the real MCP SDK
 * Client over the SDK's linked in-memory transports, each session with its own bus and store
 * connection, on a real store (a temp SQLite file, or a fresh PostgreSQL database), with one
 * clock the test moves forward: a time to live or a rate limit is backdated, never slept out.
 *
 * What needs a process (lifecycle, signals, faults, liveness of a killed session) stays in the
 * spawned integration tier (world.ts).
 */
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { openBus } from '../../src/bus/open.js';
import { Session } from '../../src/bus/session/session.js';
import { createChannelServer } from '../../src/channel/server.js';
import { instructions } from '../../src/channel/instructions.js';
import { loadConfig } from '../../src/config.js';
import { CcDmError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { OfferingClient, type Pushed } from '../../src/channel/peer.js';
import type { StoreFixture } from './stores.js';
import { until } from './wait.js';

/** A clock the test moves: it starts at the real time and only advances when told to. */
export class TestClock {
  private offset = 0;
  now = (): number => Date.now() + this.offset;
  advance(ms: number): void {
    this.offset += ms;
  }
}

export interface InProcOptions {
  /** Extra launch environment (CC_DM_SESSION_ROLE, CC_DM_DM_ALLOWLIST, ...). */
  env?: Record<string, string>;
  /** Declare the claude/channel capability (default true); false: pushes are not shown, mail waits for inbox. */
  channel?: boolean;
  /** The MCP revision the client asks for (default: the SDK's latest). */
  protocolVersion?: string;
}

export class InProcPeer {
  readonly pushes: Pushed[] = [];
  readonly verdicts: { request_id: string; behavior: string }[] = [];

  constructor(readonly name: string, readonly client: OfferingClient, readonly session: Session, private readonly closeAll: () => Promise<void>, readonly server: ReturnType<typeof createChannelServer>) {}

  /** Calls a tool; returns the parsed JSON body and whether it was an error. */
  async call(tool: string, args: Record<string, unknown> = {}): Promise<{ body: any; isError: boolean }> {
    const r = await this.client.callTool({ name: tool, arguments: args });
    const text = (r.content as { type: string; text: string }[])[0]?.text ?? '{}';
    return { body: JSON.parse(text), isError: r.isError === true };
  }

  /** Resolves when `pred` holds over what arrived, or fails naming what is missing. */
  async waitFor(pred: (p: InProcPeer) => boolean, what: string, ms = 5_000): Promise<void> {
    await until(() => pred(this), ms, `${what} (at ${this.name}, ${this.pushes.length} push(es) so far)`);
  }

  notify(method: string, params: Record<string, unknown>): Promise<void> {
    return this.client.notification({ method, params } as never);
  }

  close(): Promise<void> {
    return this.closeAll();
  }
}

export class InProcWorld {
  readonly clock = new TestClock();
  private readonly peers: InProcPeer[] = [];

  private constructor(readonly kind: StoreFixture['kind'], readonly home: string, readonly env: Record<string, string>, private readonly cleanup: () => Promise<void>) {}

  static async create(fx: StoreFixture): Promise<InProcWorld> {
    const f = await fx.fresh();
    return new InProcWorld(fx.kind, f.home, f.env, f.cleanup);
  }

  /** Starts a session named `name` (from its launch environment) with its channel server and a client. */
  async start(name: string | undefined, o: InProcOptions = {}): Promise<InProcPeer> {
    const channel = o.channel !== false;
    const cfg = loadConfig({
      ...this.env, ...(name ? { CC_DM_SESSION_NAME: name } : {}),
      // Push visibility is decided by the client's declared capability, whatever runs the tests.
      CC_DM_PUSH: channel ? 'on' : 'off', CC_DM_LOG_LEVEL: 'error', ...o.env,
    });
    const log = createLogger({ level: cfg.logLevel, tag: `inproc ${name ?? '(auto)'}` });
    const bus = await openBus(cfg, { log, clock: this.clock.now });
    const session = await Session.start(bus, { cwd: process.cwd(), canPush: channel, client: null });
    session.onError = (e) => log.warn(`background: ${String(e)}`);
    const server = createChannelServer({
      config: cfg, log, session: () => session,
      unavailable: () => new CcDmError('E_STORE_DOWN', 'unreachable'),
      instructions: instructions(session.name, { canPush: channel, relay: cfg.permissionRelay, approver: cfg.permissionApprover }),
    });
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    const client = new OfferingClient({ name: 'cc-dm-inproc', version: '1.0.0' }, { capabilities: channel ? { experimental: { 'claude/channel': {} } } : {} }, o.protocolVersion);
    let closed = false;
    const peer = new InProcPeer(session.name, client, session, async () => {
      if (closed) return;
      closed = true;
      await client.close().catch(() => {});
      await session.stop('test over');
      await bus.close();
    }, server);
    client.fallbackNotificationHandler = async (n) => {
      const p = (n.params ?? {}) as Record<string, unknown>;
      if (n.method === 'notifications/claude/channel') peer.pushes.push({ content: p.content as string, meta: p.meta as Record<string, string>, at: performance.now() });
      else if (n.method === 'notifications/claude/channel/permission') peer.verdicts.push({ request_id: p.request_id as string, behavior: p.behavior as string });
    };
    await server.server.connect(serverSide);
    await client.connect(clientSide);
    this.peers.push(peer);
    return peer;
  }

  async close(): Promise<void> {
    await Promise.all(this.peers.map((p) => p.close()));
    await this.cleanup();
  }
}
