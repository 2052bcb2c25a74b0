// A tiny MCP server that only pushes channel notifications. It is the baseline of the e2e
// timing figure (Claude Code's own time from a channel notification to the idle session's next
// model request) and lets the harness be validated independently of cc-dm itself.
//
// Usage: node dist/test/e2e/push-only-server.js <dir>
// Trigger: a file `<dir>/<id>.json` containing `{"content": "...", "meta": {...}}` appearing
// (write it elsewhere and rename it in, so it is complete). The server pushes it as
// `notifications/claude/channel` and writes `<dir>/<id>.pushed` with
// `{"before": <ms>, "after": <ms>}` (wall-clock ms, before and after the write to stdout).
// It writes `<dir>/ready` once the MCP handshake is done.

import fs from 'node:fs';
import path from 'node:path';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';

const dir = process.argv[2];
if (!dir) {
  process.stderr.write('usage: push-only-server <trigger dir>\n');
  process.exit(2);
}
fs.mkdirSync(dir, { recursive: true });

function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

const server = new Server(
  { name: 'push-only', version: '0.0.0' },
  {
    capabilities: { experimental: { 'claude/channel': {} }, tools: {} },
    instructions: 'Test server: messages arrive as <channel> events. It has no tools.',
  },
);

const seen = new Set<string>();
let busy = Promise.resolve();

function scan(): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names.sort()) {
    if (!name.endsWith('.json') || seen.has(name)) continue;
    seen.add(name);
    busy = busy
      .then(() => push(name))
      .catch((err) => {
        process.stderr.write(`push-only: ${String(err)}\n`);
      });
  }
}

async function push(name: string): Promise<void> {
  const file = path.join(dir, name);
  const msg = JSON.parse(fs.readFileSync(file, 'utf8')) as { content: string; meta?: Record<string, string> };
  const before = nowMs();
  await server.notification({
    method: 'notifications/claude/channel',
    params: { content: msg.content, meta: msg.meta ?? {} },
  });
  const after = nowMs();
  const out = path.join(dir, name.replace(/\.json$/, '.pushed'));
  fs.writeFileSync(out + '.tmp', JSON.stringify({ before, after }));
  fs.renameSync(out + '.tmp', out);
}

// Files already there at start are pushed this long after the handshake (default at once), or,
// with PUSH_ONLY_AFTER_TOOLS_LIST=1, this long after the client's first tools/list.
const initialDelay = Number(process.env.PUSH_ONLY_INITIAL_DELAY_MS ?? 0);
const afterToolsList = process.env.PUSH_ONLY_AFTER_TOOLS_LIST === '1';
let toolsListed = false;
server.setRequestHandler(ListToolsRequestSchema, async () => {
  if (afterToolsList && !toolsListed) setTimeout(startWatching, initialDelay);
  toolsListed = true;
  return { tools: [] };
});

function startWatching(): void {
  scan();
  fs.watch(dir, () => scan());
  // A slow fallback in case an inotify event is missed; the watch is what gives the timing.
  setInterval(scan, 1000).unref();
}

server.oninitialized = () => {
  fs.writeFileSync(path.join(dir, 'ready'), String(process.pid));
  if (!afterToolsList) setTimeout(startWatching, initialDelay);
};

process.stdin.on('close', () => process.exit(0));
const transport = new StdioServerTransport();
await server.connect(transport);
// Log what the client asks and when, to <dir>/received.log.
const onmessage = transport.onmessage;
transport.onmessage = (msg) => {
  const m = msg as { method?: string };
  fs.appendFileSync(path.join(dir, 'received.log'), `${new Date().toISOString()} ${m.method ?? 'response'}\n`);
  onmessage?.(msg);
};
