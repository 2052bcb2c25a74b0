/**
 * A cc-dm channel server started the way Claude Code starts it: a child process over stdio,
 * driven by the MCP SDK Client. Used by `cc-dm demo`, the integration tests and the benchmark.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Arrivals } from './arrivals.js';

export const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'cc-dm.js');

/** The test's own environment without any cc-dm setting or Claude Code marker: what a child starts from. */
export function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('CC_DM_') && k !== 'CLAUDECODE') env[k] = v;
  return env;
}

export interface Pushed {
  content: string;
  meta: Record<string, string>;
  at: number;
}

export interface PeerOptions {
  home: string;
  name?: string;
  env?: Record<string, string | undefined>;
  /** Declare the claude/channel capability, as a client that shows pushes would (default true). */
  channel?: boolean;
  nodeArgs?: string[];
  /** The client's name in its handshake (Claude Code's is "claude-code"). */
  clientName?: string;
  /** Start the server through this program instead (e.g. a stand-in for the claude launcher). */
  launcher?: { command: string; args: string[] };
  cwd?: string;
  stderr?: 'inherit' | 'ignore' | 'pipe';
  /** The MCP revision the client asks for in its handshake (default: the SDK's latest). */
  protocolVersion?: string;
}

/**
 * An SDK Client that asks for a given MCP revision in its handshake (the SDK's own Client always
 * asks for its latest) and records the revision the server answered with.
 */
export class OfferingClient extends Client {
  negotiated?: string;
  constructor(
    info: ConstructorParameters<typeof Client>[0],
    options: ConstructorParameters<typeof Client>[1],
    private readonly offer?: string,
  ) {
    super(info, options);
  }

  override async request(...args: Parameters<Client['request']>): Promise<any> {
    const [req, ...rest] = args;
    if (req.method !== 'initialize') return super.request(req, ...rest);
    const asked = this.offer ? { ...req, params: { ...req.params, protocolVersion: this.offer } } : req;
    const result = (await super.request(asked, ...rest)) as { protocolVersion?: string };
    this.negotiated = result.protocolVersion;
    return result;
  }
}

export class Peer {
  readonly pushes: Pushed[] = [];
  readonly verdicts: { request_id: string; behavior: string; at: number }[] = [];
  private readonly arrivals = new Arrivals();
  stderrText = '';

  private constructor(
    readonly client: OfferingClient,
    readonly transport: StdioClientTransport,
  ) {}

  static async start(o: PeerOptions): Promise<Peer> {
    const env = cleanEnv();
    env.CC_DM_HOME = o.home;
    if (o.name) env.CC_DM_SESSION_NAME = o.name;
    for (const [k, v] of Object.entries(o.env ?? {})) {
      if (v === undefined) delete env[k];
      else env[k] = v;
    }
    const transport = new StdioClientTransport({
      command: o.launcher?.command ?? process.execPath,
      args: o.launcher?.args ?? [...(o.nodeArgs ?? []), BIN, 'serve'],
      env,
      cwd: o.cwd,
      stderr: o.stderr ?? 'pipe',
    });
    const client = new OfferingClient(
      { name: o.clientName ?? 'cc-dm-peer', version: '1.0.0' },
      {
        capabilities: o.channel === false ? {} : { experimental: { 'claude/channel': {} } },
      },
      o.protocolVersion,
    );
    const peer = new Peer(client, transport);
    client.fallbackNotificationHandler = async (n) => {
      const p = (n.params ?? {}) as Record<string, unknown>;
      if (n.method === 'notifications/claude/channel') {
        peer.pushes.push({ content: p.content as string, meta: p.meta as Record<string, string>, at: performance.now() });
      } else if (n.method === 'notifications/claude/channel/permission') {
        peer.verdicts.push({ request_id: p.request_id as string, behavior: p.behavior as string, at: performance.now() });
      }
      peer.arrivals.arrived();
    };
    transport.stderr?.on('data', (d) => {
      peer.stderrText += String(d);
    });
    await client.connect(transport);
    return peer;
  }

  /** The MCP revision the server answered the handshake with. */
  get negotiated(): string | undefined {
    return this.client.negotiated;
  }

  get pid(): number | null {
    return this.transport.pid;
  }

  /** Calls a tool; returns the parsed JSON body and whether it was an error. */
  async call(tool: string, args: Record<string, unknown> = {}): Promise<{ body: any; isError: boolean }> {
    const r = await this.client.callTool({ name: tool, arguments: args });
    const text = (r.content as { type: string; text: string }[])[0]?.text ?? '{}';
    return { body: JSON.parse(text), isError: r.isError === true };
  }

  /** Resolves when `pred` holds over what arrived, or rejects after `ms` naming what is missing. */
  waitFor(pred: (p: Peer) => boolean, ms: number, what: string): Promise<void> {
    return this.arrivals.until(
      () => pred(this),
      ms,
      what,
      () => `${this.pushes.length} push(es)`,
    );
  }

  notify(method: string, params: Record<string, unknown>): Promise<void> {
    return this.client.notification({ method, params } as never);
  }

  async close(): Promise<void> {
    await this.client.close().catch(() => {});
  }
}
