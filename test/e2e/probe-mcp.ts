// A tiny MCP server (stdio, newline-delimited JSON-RPC, no SDK) that records what its client does,
// for establishing facts about Codex CLI and Gemini CLI:
//
// - every message in and out, with its time, to the JSONL file named by PROBE_MCP_LOG
//   (first line: its pid, parent chain from /proc and environment);
// - tools: `probe_echo {text}` (answers the text back, with the call's `_meta`), and
//   `probe_push {content}` (answers, then pushes a `notifications/claude/channel` with the
//   content: to check that the host drops it);
// - declares `experimental['claude/channel']` like cc-dm does.
//
// Run: node dist/test/e2e/probe-mcp.js   (PROBE_MCP_LOG=/path/to/log.jsonl)

import fs from 'node:fs';
import { parentChain } from './proc.js';

const logFile = process.env.PROBE_MCP_LOG;
const t0 = Date.now();

function rec(entry: Record<string, unknown>): void {
  if (!logFile) return;
  fs.appendFileSync(logFile, JSON.stringify({ t: Date.now(), pid: process.pid, ...entry }) + '\n');
}

function send(msg: Record<string, unknown>): void {
  rec({ dir: 'out', msg });
  process.stdout.write(JSON.stringify(msg) + '\n');
}

rec({ dir: 'start', argv: process.argv, cwd: process.cwd(), env: process.env, chain: parentChain(process.pid), startMs: t0 });

const tools = [
  {
    name: 'probe_echo',
    description: 'Echo the text back (test probe).',
    inputSchema: { type: 'object', properties: { text: { type: 'string', description: 'Text to echo.' } }, required: ['text'] },
  },
  {
    name: 'probe_push',
    description: 'Answer, then push a channel notification with the content (test probe).',
    inputSchema: { type: 'object', properties: { content: { type: 'string' } }, required: ['content'] },
  },
];

/** PROBE_MCP_DELAY_MS: answer `initialize` only after this delay (a slow-starting server). */
const initDelay = Number(process.env.PROBE_MCP_DELAY_MS ?? 0);

function handle(msg: any): void {
  if (msg.method === 'initialize' && initDelay > 0 && !msg.__delayed) {
    setTimeout(() => handle({ ...msg, __delayed: true }), initDelay);
    return;
  }
  if (msg.method === 'initialize') {
    send({
      jsonrpc: '2.0',
      id: msg.id,
      result: {
        protocolVersion: msg.params?.protocolVersion ?? '2025-06-18',
        capabilities: { tools: {}, experimental: { 'claude/channel': {} } },
        serverInfo: { name: 'probe', version: '0.0.1' },
        instructions: 'Probe server for tests.',
      },
    });
    return;
  }
  if (msg.method === 'tools/list') {
    send({ jsonrpc: '2.0', id: msg.id, result: { tools } });
    return;
  }
  if (msg.method === 'tools/call') {
    const name = msg.params?.name;
    const args = msg.params?.arguments ?? {};
    if (name === 'probe_echo') {
      const text = JSON.stringify({ echo: args.text, meta: msg.params?._meta ?? null });
      send({ jsonrpc: '2.0', id: msg.id, result: { content: [{ type: 'text', text }] } });
      return;
    }
    if (name === 'probe_push') {
      send({ jsonrpc: '2.0', id: msg.id, result: { content: [{ type: 'text', text: '{"pushed":true}' }] } });
      setTimeout(() => {
        send({
          jsonrpc: '2.0',
          method: 'notifications/claude/channel',
          params: { content: String(args.content ?? ''), meta: { from_session: 'probe', message_id: 'probe-1' } },
        });
      }, 50);
      return;
    }
    send({ jsonrpc: '2.0', id: msg.id, error: { code: -32602, message: `unknown tool ${name}` } });
    return;
  }
  if (msg.id !== undefined && msg.method) {
    // resources/list, prompts/list, ping ...: empty answers.
    const empty: Record<string, unknown> = msg.method === 'ping' ? {} : { resources: [], prompts: [], resourceTemplates: [] };
    send({ jsonrpc: '2.0', id: msg.id, result: empty });
  }
}

let buf = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d: string) => {
  buf += d;
  let nl: number;
  while ((nl = buf.indexOf('\n')) >= 0) {
    const line = buf.slice(0, nl).trim();
    buf = buf.slice(nl + 1);
    if (!line) continue;
    let msg: any;
    try {
      msg = JSON.parse(line);
    } catch {
      rec({ dir: 'in-bad', line });
      continue;
    }
    rec({ dir: 'in', msg });
    handle(msg);
  }
});
process.stdin.on('end', () => {
  rec({ dir: 'stdin-end' });
  process.exit(0);
});
process.on('SIGTERM', () => {
  rec({ dir: 'sigterm' });
  process.exit(0);
});
