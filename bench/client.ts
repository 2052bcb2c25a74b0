/**
 * The bench's MCP client, standing in for Claude Code: it starts a server (any server: cc-dm or
 * another one under `--compare`) as a child process over stdio, declares `claude/channel`, and
 * records every `notifications/claude/channel` push with the time it arrived. It knows nothing of
 * the server beyond MCP: tools are called by name, results are read as JSON text, a result with
 * `isError` or `success: false` is a failure.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { Arrivals } from '../src/channel/arrivals.js';

export interface Pushed {
  content: string;
  meta: Record<string, string>;
  at: number;
}

export interface StartOptions {
  /** The server's command line: argv[0] is the program. */
  argv: readonly string[];
  env: Record<string, string>;
  cwd?: string;
}

/** Variables never passed from the bench's own environment to a server. */
const PRIVATE = /^(CC_DM_|CLAUDE)/;

export class BenchPeer {
  readonly pushes: Pushed[] = [];
  private readonly arrivals = new Arrivals();
  stderrText = '';

  private constructor(readonly name: string, readonly client: Client, readonly transport: StdioClientTransport) {}

  static async start(name: string, o: StartOptions): Promise<BenchPeer> {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !PRIVATE.test(k)) env[k] = v;
    Object.assign(env, o.env);
    const transport = new StdioClientTransport({ command: o.argv[0]!, args: o.argv.slice(1), env, cwd: o.cwd, stderr: 'pipe' });
    const client = new Client({ name: 'claude-code-bench', version: '1.0.0' }, { capabilities: { experimental: { 'claude/channel': {} } } });
    const peer = new BenchPeer(name, client, transport);
    client.fallbackNotificationHandler = async (n) => {
      if (n.method === 'notifications/claude/channel') {
        const p = (n.params ?? {}) as Record<string, unknown>;
        peer.pushes.push({ content: String(p.content), meta: (p.meta ?? {}) as Record<string, string>, at: performance.now() });
        peer.arrivals.arrived();
      }
    };
    transport.stderr?.on('data', (d) => { if (peer.stderrText.length < 20_000) peer.stderrText += String(d); });
    await client.connect(transport);
    return peer;
  }

  get pid(): number | null {
    return this.transport.pid;
  }

  /** Calls a tool; `ok` is false for `isError` results and for bodies saying `success: false`. */
  async call(tool: string, args: Record<string, unknown> = {}): Promise<{ body: any; ok: boolean; error?: string }> {
    try {
      const r = await this.client.callTool({ name: tool, arguments: args });
      const text = (r.content as { type: string; text: string }[])[0]?.text ?? '{}';
      let body: any;
      try { body = JSON.parse(text); } catch { body = { text }; }
      const ok = r.isError !== true && body?.success !== false;
      return { body, ok, error: ok ? undefined : String(body?.error ?? 'failed') };
    } catch (e) {
      return { body: undefined, ok: false, error: (e as Error).message };
    }
  }

  /** Resolves when `pred` holds over what arrived, or rejects after `ms` naming what is missing. */
  waitFor(pred: (p: BenchPeer) => boolean, ms: number, what: string): Promise<void> {
    return this.arrivals.until(() => pred(this), ms, what, () => `${this.pushes.length} push(es)`);
  }

  async close(): Promise<void> {
    await this.client.close().catch(() => {});
  }
}

/** Splits a command line as a shell would for plain words and quotes; anything fancier runs under sh -c. */
export function commandArgv(command: string): string[] {
  if (/[|&;<>()$`*?~]/.test(command.replace(/'[^']*'|"[^"]*"/g, ''))) return ['sh', '-c', command];
  const out: string[] = [];
  const re = /'([^']*)'|"((?:[^"\\]|\\.)*)"|(\S+)/g;
  let cur = '';
  let last = -1;
  for (let m; (m = re.exec(command));) {
    const part = m[1] ?? m[2]?.replace(/\\(.)/g, '$1') ?? m[3]!;
    if (last >= 0 && m.index === last) cur += part;
    else { if (last >= 0) out.push(cur); cur = part; }
    last = re.lastIndex;
  }
  if (last >= 0) out.push(cur);
  return out;
}
