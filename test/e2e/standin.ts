// A stand-in for the Anthropic Messages API, good enough to drive the real Claude Code CLI
// offline. One instance per Claude Code session keeps the recorded requests unambiguous.
//
// It answers `HEAD /` (Claude Code's connectivity probe), `POST /v1/messages` (streamed as
// standard server-sent events when `stream: true`, plain JSON otherwise) and
// `POST /v1/messages/count_tokens`. What the "model" says is decided per test by a script: a
// function from the recorded request to a reply (text, or one tool_use block). Every request is
// recorded with its arrival time, so a test can wait for "the next model request that contains
// X" with a bounded wait.

import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { closeServer, listenLocal, Recorded, recordingServer, RequestLog, sseFrame, Waitable } from './recorder.js';

export { nowMs } from './recorder.js';

export interface ContentBlock {
  type: string;
  text?: string;
  id?: string;
  name?: string;
  input?: unknown;
  tool_use_id?: string;
  content?: string | ContentBlock[];
  is_error?: boolean;
  [k: string]: unknown;
}

export interface ApiMessage {
  role: 'user' | 'assistant';
  content: string | ContentBlock[];
}

/** A request as recorded, with what the script answered (model requests only). */
export type RecordedRequest = Recorded<Reply>;

export type Reply =
  | { text: string }
  | { toolUse: { name: string; input: unknown; id?: string }; text?: string }
  | { error: { status: number; type: string; message: string } };

export type Script = (req: RecordedRequest, standin: Standin) => Reply | Promise<Reply>;

export interface Standin extends Waitable<RecordedRequest> {
  url: string;
  port: number;
  /** Replace the script (takes effect for the next request). */
  setScript(script: Script): void;
  /** Model requests only (POST /v1/messages, not count_tokens). */
  messageRequests(): RecordedRequest[];
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Request inspection helpers

export function isMessagesRequest(r: RecordedRequest): boolean {
  return r.method === 'POST' && /^\/v1\/messages(\?|$)/.test(r.path);
}

/** The main agent loop's requests carry the tool list; side requests (titles, summaries) don't. */
export function isMainLoopRequest(r: RecordedRequest): boolean {
  return isMessagesRequest(r) && Array.isArray(r.body?.tools) && r.body.tools.length > 0;
}

export function blockText(b: ContentBlock | string): string {
  if (typeof b === 'string') return b;
  let s = '';
  if (typeof b.text === 'string') s += b.text;
  if (b.type === 'tool_use') s += JSON.stringify(b.input ?? {});
  if (b.content !== undefined) {
    s += typeof b.content === 'string' ? b.content : b.content.map(blockText).join('\n');
  }
  return s;
}

export function messageText(m: ApiMessage): string {
  return typeof m.content === 'string' ? m.content : m.content.map(blockText).join('\n');
}

/** All text of a request: system prompt and every message. */
export function requestText(r: RecordedRequest): string {
  const b = r.body ?? {};
  let s = '';
  if (typeof b.system === 'string') s += b.system + '\n';
  else if (Array.isArray(b.system)) s += b.system.map(blockText).join('\n') + '\n';
  for (const m of (b.messages ?? []) as ApiMessage[]) s += messageText(m) + '\n';
  return s;
}

/** Text of the messages only (no system prompt). */
export function messagesText(r: RecordedRequest): string {
  return ((r.body?.messages ?? []) as ApiMessage[]).map(messageText).join('\n');
}

export function lastMessage(r: RecordedRequest): ApiMessage | undefined {
  const ms = (r.body?.messages ?? []) as ApiMessage[];
  return ms[ms.length - 1];
}

/** Text of the last message (the newest user turn or tool results). */
export function lastMessageText(r: RecordedRequest): string {
  const m = lastMessage(r);
  return m ? messageText(m) : '';
}

/** All tool_use blocks the assistant made in this request's history, in order. */
export function toolUses(r: RecordedRequest): ContentBlock[] {
  const out: ContentBlock[] = [];
  for (const m of (r.body?.messages ?? []) as ApiMessage[]) {
    if (m.role !== 'assistant' || typeof m.content === 'string') continue;
    for (const b of m.content) if (b.type === 'tool_use') out.push(b);
  }
  return out;
}

/** All tool_result blocks in this request's history, keyed by tool_use_id. */
export function toolResults(r: RecordedRequest): Map<string, ContentBlock> {
  const out = new Map<string, ContentBlock>();
  for (const m of (r.body?.messages ?? []) as ApiMessage[]) {
    if (m.role !== 'user' || typeof m.content === 'string') continue;
    for (const b of m.content) if (b.type === 'tool_result' && b.tool_use_id) out.set(b.tool_use_id, b);
  }
  return out;
}

/** Names of the tools offered in the request (deferred MCP tools are not in this list). */
export function toolNames(r: RecordedRequest): string[] {
  return ((r.body?.tools ?? []) as { name?: string }[]).map((t) => t.name ?? '').filter(Boolean);
}

/** Every `<channel ...>...</channel>` element found in the messages of a request. */
export interface ChannelEvent {
  attrs: Record<string, string>;
  content: string;
  raw: string;
}

export function channelEvents(text: string): ChannelEvent[] {
  const out: ChannelEvent[] = [];
  // At least one attribute (prose such as "arrive as <channel> events" is not an event), and the
  // content never spans another opening tag.
  const re = /<channel(\s[^>]*)>((?:(?!<channel\s)[\s\S])*?)<\/channel>/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text))) {
    const attrs: Record<string, string> = {};
    const are = /([A-Za-z_][\w-]*)="([^"]*)"/g;
    let a: RegExpExecArray | null;
    while ((a = are.exec(m[1]))) attrs[a[1]] = a[2];
    out.push({ attrs, content: m[2].replace(/^\n/, '').replace(/\n$/, ''), raw: m[0] });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Script helpers

let toolIdCounter = 0;
export function newToolUseId(): string {
  toolIdCounter++;
  return 'toolu_01' + randomBytes(12).toString('base64url').replace(/[-_]/g, 'x') + toolIdCounter;
}

/**
 * A step of a tool flow that takes deferred MCP tools into account: the first reply calls the
 * built-in ToolSearch with `select:<tool>`, the next one (once its result is in) calls the tool
 * itself. Returns undefined once the tool's own result has come back (the flow is done), so the
 * caller decides what to say next.
 *
 * State is kept in the request history itself (which tool_use blocks exist, which have results),
 * so the flow survives retries and is independent of other requests.
 */
export function deferredToolStep(
  r: RecordedRequest,
  tool: string,
  input: unknown,
  opts: { marker?: string } = {},
): Reply | undefined {
  const uses = toolUses(r);
  const results = toolResults(r);
  // Only consider tool uses made after the newest user text turn that contains the marker (if
  // given), so a session can run the same flow more than once.
  let startIdx = 0;
  if (opts.marker) {
    const ms = (r.body?.messages ?? []) as ApiMessage[];
    let idx = -1;
    ms.forEach((m, i) => {
      if (m.role === 'user' && messageText(m).includes(opts.marker!)) idx = i;
    });
    const before = ms.slice(0, Math.max(idx, 0));
    startIdx = before.reduce(
      (n, m) =>
        n + (m.role === 'assistant' && typeof m.content !== 'string' ? m.content.filter((b) => b.type === 'tool_use').length : 0),
      0,
    );
  }
  const recent = uses.slice(startIdx);
  const call = recent.find((u) => u.name === tool);
  if (call) {
    return results.has(call.id!) ? undefined : { text: 'waiting for the tool result' };
  }
  const search = recent.find(
    (u) => u.name === 'ToolSearch' && JSON.stringify(u.input).includes(`select:${tool}`),
  );
  // Tools that are already offered directly need no search.
  if (!search && !toolNames(r).includes(tool) && toolNames(r).includes('ToolSearch')) {
    return { toolUse: { name: 'ToolSearch', input: { query: `select:${tool}`, max_results: 1 } } };
  }
  return { toolUse: { name: tool, input } };
}

/** The tool_result that came back for the newest call of `tool`, as text. */
export function lastToolResultText(r: RecordedRequest, tool: string): string | undefined {
  const uses = toolUses(r).filter((u) => u.name === tool);
  const last = uses[uses.length - 1];
  if (!last) return undefined;
  const res = toolResults(r).get(last.id!);
  return res ? blockText(res) : undefined;
}

// ---------------------------------------------------------------------------------------------
// The server

function sse(res: http.ServerResponse, event: string, data: unknown): void {
  res.write(sseFrame(event, data));
}

function messageId(): string {
  return 'msg_01' + randomBytes(12).toString('hex');
}

function replyBlocks(reply: Exclude<Reply, { error: unknown }>): ContentBlock[] {
  const blocks: ContentBlock[] = [];
  if ('toolUse' in reply) {
    if (reply.text) blocks.push({ type: 'text', text: reply.text });
    blocks.push({
      type: 'tool_use',
      id: reply.toolUse.id ?? newToolUseId(),
      name: reply.toolUse.name,
      input: reply.toolUse.input,
    });
  } else {
    blocks.push({ type: 'text', text: reply.text });
  }
  return blocks;
}

export const defaultScript: Script = () => ({ text: 'OK.' });

export async function startStandin(script: Script = defaultScript, label = 'standin'): Promise<Standin> {
  let current = script;
  const log = new RequestLog<RecordedRequest>(label, lastMessageText, isMessagesRequest);

  const server = recordingServer(log, handle, (message) => ({ type: 'error', error: { type: 'api_error', message } }));

  async function handle(rec: RecordedRequest, raw: string, res: http.ServerResponse, done: () => void) {
    const { method, path, body } = rec;
    if (method === 'HEAD' || method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(method === 'GET' ? '{}' : undefined);
      return done();
    }
    if (method === 'POST' && /^\/v1\/messages\/count_tokens/.test(path)) {
      const n = Math.max(1, Math.ceil(raw.length / 4));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ input_tokens: n }));
      return done();
    }
    if (!(method === 'POST' && /^\/v1\/messages(\?|$)/.test(path))) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ type: 'error', error: { type: 'not_found_error', message: `no route ${path}` } }));
      return done();
    }
    let reply: Reply;
    try {
      reply = await current(rec, api);
    } catch (err) {
      reply = { text: `stand-in script error: ${String(err)}` };
    }
    rec.reply = reply;
    if ('error' in reply) {
      res.writeHead(reply.error.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ type: 'error', error: { type: reply.error.type, message: reply.error.message } }));
      return done();
    }
    const blocks = replyBlocks(reply);
    const stop = blocks.some((b) => b.type === 'tool_use') ? 'tool_use' : 'end_turn';
    const model = typeof body?.model === 'string' ? body.model : 'claude-standin';
    const id = messageId();
    const usage = { input_tokens: 10, output_tokens: 5, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
    if (!body?.stream) {
      res.writeHead(200, { 'content-type': 'application/json', 'request-id': `req_${id}` });
      res.end(
        JSON.stringify({
          id, type: 'message', role: 'assistant', model, content: blocks,
          stop_reason: stop, stop_sequence: null, usage,
        }),
      );
      return done();
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'request-id': `req_${id}`,
    });
    sse(res, 'message_start', {
      type: 'message_start',
      message: {
        id, type: 'message', role: 'assistant', model, content: [],
        stop_reason: null, stop_sequence: null, usage: { ...usage, output_tokens: 1 },
      },
    });
    blocks.forEach((b, index) => {
      if (b.type === 'text') {
        sse(res, 'content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
        sse(res, 'content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: b.text } });
      } else {
        sse(res, 'content_block_start', {
          type: 'content_block_start', index,
          content_block: { type: 'tool_use', id: b.id, name: b.name, input: {} },
        });
        sse(res, 'content_block_delta', {
          type: 'content_block_delta', index,
          delta: { type: 'input_json_delta', partial_json: JSON.stringify(b.input ?? {}) },
        });
      }
      sse(res, 'content_block_stop', { type: 'content_block_stop', index });
    });
    sse(res, 'message_delta', {
      type: 'message_delta',
      delta: { stop_reason: stop, stop_sequence: null },
      usage: { output_tokens: 5 },
    });
    sse(res, 'message_stop', { type: 'message_stop' });
    res.end();
    done();
  }

  const port = await listenLocal(server);
  const api: Standin = {
    url: `http://127.0.0.1:${port}`,
    port,
    requests: log.requests,
    nextSeq: () => log.nextSeq(),
    waitForRequest: (pred, what, timeoutMs, fromSeq) => log.waitForRequest(pred, what, timeoutMs, fromSeq),
    setScript(s) {
      current = s;
    },
    messageRequests() {
      return log.requests.filter(isMessagesRequest);
    },
    close: () => closeServer(server),
  };
  return api;
}
