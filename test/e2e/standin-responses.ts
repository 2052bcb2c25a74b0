// A stand-in for the OpenAI Responses API as the real Codex CLI (0.171.0) uses it with a custom
// provider (`wire_api = "responses"`), good enough to drive it offline. One instance per Codex
// session (or per app-server daemon) keeps the recorded requests unambiguous.
//
// What Codex sends (measured): `POST /v1/responses` with `stream: true`, `store: false`, the
// system prompt as the first `developer` message of `input` (not `instructions`), every tool in
// `tools` (built-ins as `function`, MCP servers and sub-agent tools as `namespace` tools holding
// `function`s), `x-codex-turn-metadata`, `session-id` and `thread-id` headers. It asks for nothing
// else at start (no model list): an unknown model name only prints a "model metadata not found"
// warning. It expects a server-sent event stream: `response.created`, output items
// (`response.output_item.added` / `.done`, text deltas) and `response.completed` (without it the
// turn fails as a disconnect and is retried). Errors (4xx/5xx) are retried five times.
//
// The reply is decided per test by a script: a function from the recorded request to text or
// one or more function calls (an MCP tool is called with its `namespace`, e.g.
// `{ namespace: 'mcp__cc_dm', name: 'who' }`).

import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { closeServer, listenLocal, Recorded, recordingServer, RequestLog, sseFrame, Waitable } from './recorder.js';

export { nowMs } from './recorder.js';

export interface FunctionCall {
  name: string;
  /** The namespace tool it belongs to (`mcp__<server>` for an MCP server's tools). */
  namespace?: string;
  /** Arguments: an object (serialized for the wire) or a ready JSON string. */
  arguments?: unknown;
  callId?: string;
}

export type ResponsesReply =
  | { text: string }
  | { call: FunctionCall; text?: string }
  | { calls: FunctionCall[]; text?: string }
  | { error: { status: number; message: string; type?: string } }
  /** Close the stream without `response.completed` (a disconnect, for retry tests). */
  | { hangUp: true };

export type ResponsesRequest = Recorded<ResponsesReply>;
export type ResponsesScript = (req: ResponsesRequest, standin: ResponsesStandin) => ResponsesReply | Promise<ResponsesReply>;

export interface ResponsesStandin extends Waitable<ResponsesRequest> {
  url: string;
  /** The provider base URL for Codex's config (`<url>/v1`). */
  baseUrl: string;
  port: number;
  setScript(script: ResponsesScript): void;
  /** The model requests (POST /v1/responses). */
  modelRequests(): ResponsesRequest[];
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Reading what the model received

export interface InputItem {
  type?: string;
  role?: string;
  content?: unknown;
  name?: string;
  namespace?: string;
  arguments?: string;
  call_id?: string;
  output?: unknown;
  [k: string]: unknown;
}

export function isResponsesRequest(r: Recorded): boolean {
  return r.method === 'POST' && /^\/v1\/responses(\?|$)/.test(r.path);
}

export function inputItems(r: Recorded): InputItem[] {
  const input = r.body?.input;
  if (typeof input === 'string') return [{ type: 'message', role: 'user', content: input }];
  return Array.isArray(input) ? (input as InputItem[]) : [];
}

/** Text of a content value: a string, or a list of parts (`input_text`, `output_text`, ...). */
export function contentText(c: unknown): string {
  if (typeof c === 'string') return c;
  if (Array.isArray(c)) {
    return c
      .map((p) => (typeof p === 'string' ? p : typeof p?.text === 'string' ? p.text : ''))
      .filter(Boolean)
      .join('\n');
  }
  return '';
}

/** Text of one input item: a message's text, a call's name and arguments, a call output. */
export function itemText(i: InputItem): string {
  switch (i.type) {
    case 'function_call':
      return `${i.namespace ? i.namespace + '.' : ''}${i.name}(${i.arguments ?? ''})`;
    case 'function_call_output':
    case 'custom_tool_call_output':
      return contentText(i.output);
    default:
      return contentText(i.content);
  }
}

/** The whole prompt: instructions and every input item. */
export function requestText(r: Recorded): string {
  const parts: string[] = [];
  if (typeof r.body?.instructions === 'string') parts.push(r.body.instructions);
  for (const i of inputItems(r)) parts.push(itemText(i));
  return parts.join('\n');
}

/** Items the model produced (its messages, reasoning, calls): the boundary of a "turn". */
function isModelOutput(i: InputItem): boolean {
  return (i.type === 'message' && i.role === 'assistant') || i.type === 'function_call' || i.type === 'reasoning' || i.type === 'custom_tool_call';
}

/** The newest input: the items after the model's last output (the new user turn, tool results, developer notes). */
export function newestItems(r: Recorded): InputItem[] {
  const items = inputItems(r);
  let k = items.length;
  while (k > 0 && !isModelOutput(items[k - 1])) k--;
  return items.slice(k);
}

export function newestText(r: Recorded): string {
  return newestItems(r).map(itemText).join('\n');
}

/** Text of every `developer` message (the system prompt is the first one). */
export function developerMessages(r: Recorded): string[] {
  return inputItems(r)
    .filter((i) => i.type === 'message' && i.role === 'developer')
    .map((i) => contentText(i.content));
}

/** Text of every `user` message. */
export function userMessages(r: Recorded): string[] {
  return inputItems(r)
    .filter((i) => i.type === 'message' && i.role === 'user')
    .map((i) => contentText(i.content));
}

/** The function calls the model made in this request's history, in order. */
export function functionCalls(r: Recorded): InputItem[] {
  return inputItems(r).filter((i) => i.type === 'function_call');
}

/** Function call outputs in this request's history, keyed by call_id, as text. */
export function toolResults(r: Recorded): Map<string, string> {
  const out = new Map<string, string>();
  for (const i of inputItems(r)) if (i.type === 'function_call_output' && i.call_id) out.set(i.call_id, contentText(i.output));
  return out;
}

/** The output of the newest call of `name` (optionally in `namespace`), as text, once it is there. */
export function lastToolResult(r: Recorded, name: string, namespace?: string): string | undefined {
  const calls = functionCalls(r).filter((c) => c.name === name && (namespace === undefined || c.namespace === namespace));
  const last = calls[calls.length - 1];
  return last?.call_id ? toolResults(r).get(last.call_id) : undefined;
}

export interface OfferedTool {
  name: string;
  namespace?: string;
  type: string;
  description?: string;
  parameters?: unknown;
}

/** Every tool offered, namespace tools flattened (their functions carry `namespace`). */
export function offeredTools(r: Recorded): OfferedTool[] {
  const out: OfferedTool[] = [];
  for (const t of (r.body?.tools ?? []) as any[]) {
    if (t?.type === 'namespace' && Array.isArray(t.tools)) {
      for (const f of t.tools) out.push({ name: f.name, namespace: t.name, type: f.type, description: f.description, parameters: f.parameters });
    } else out.push({ name: t?.name ?? t?.type, type: t?.type, description: t?.description, parameters: t?.parameters });
  }
  return out;
}

/** The namespace tools offered (name -> its raw JSON), e.g. `mcp__cc_dm`. */
export function namespaceTools(r: Recorded): Map<string, any> {
  const out = new Map<string, any>();
  for (const t of (r.body?.tools ?? []) as any[]) if (t?.type === 'namespace') out.set(t.name, t);
  return out;
}

/** Codex's per-request metadata header (thread id, turn id, trigger), parsed. */
export function turnMetadata(r: Recorded): Record<string, unknown> {
  const h = r.headers['x-codex-turn-metadata'];
  try {
    return typeof h === 'string' ? JSON.parse(h) : {};
  } catch {
    return {};
  }
}

/** The thread the request belongs to (`thread-id` header). */
export function threadIdOf(r: Recorded): string | undefined {
  const h = r.headers['thread-id'] ?? r.headers['session-id'];
  return typeof h === 'string' ? h : undefined;
}

// ---------------------------------------------------------------------------------------------
// Script helpers

/** Calls the given tool once per turn that contains `marker` (default: any user turn), then says `done`. */
export function callOnceScript(call: FunctionCall, opts: { marker?: string; done?: string } = {}): ResponsesScript {
  return (r) => {
    const items = inputItems(r);
    let start = 0;
    items.forEach((i, k) => {
      if (i.type === 'message' && i.role === 'user' && (!opts.marker || contentText(i.content).includes(opts.marker))) start = k;
    });
    if (opts.marker && !items.slice(start).some((i) => i.type === 'message' && contentText(i.content).includes(opts.marker!))) {
      return { text: opts.done ?? 'OK.' };
    }
    const made = items.slice(start).some((i) => i.type === 'function_call' && i.name === call.name && i.namespace === call.namespace);
    return made ? { text: opts.done ?? 'Done.' } : { call };
  };
}

export const defaultResponsesScript: ResponsesScript = () => ({ text: 'OK.' });

// ---------------------------------------------------------------------------------------------
// The server

let counter = 0;
const rid = (p: string) => `${p}_${randomBytes(8).toString('hex')}${++counter}`;

function outputItems(reply: Exclude<ResponsesReply, { error: unknown } | { hangUp: true }>): any[] {
  const items: any[] = [];
  if ('text' in reply && reply.text !== undefined) {
    items.push({
      type: 'message', id: rid('msg'), role: 'assistant', status: 'completed',
      content: [{ type: 'output_text', text: reply.text, annotations: [] }],
    });
  }
  const calls = 'call' in reply ? [reply.call] : 'calls' in reply ? reply.calls : [];
  for (const c of calls) {
    items.push({
      type: 'function_call', id: rid('fc'), call_id: c.callId ?? rid('call'), name: c.name,
      ...(c.namespace ? { namespace: c.namespace } : {}),
      arguments: typeof c.arguments === 'string' ? c.arguments : JSON.stringify(c.arguments ?? {}),
      status: 'completed',
    });
  }
  return items;
}

export async function startResponsesStandin(
  script: ResponsesScript = defaultResponsesScript,
  label = 'responses stand-in',
): Promise<ResponsesStandin> {
  let current = script;
  const log = new RequestLog<ResponsesRequest>(label, (r) => newestText(r), isResponsesRequest);

  const server = recordingServer(log, handle, (message) => ({ error: { message, type: 'server_error' } }));

  async function handle(rec: ResponsesRequest, raw: string, res: http.ServerResponse, done: () => void) {
    if (rec.method === 'GET' && /^\/v1\/models(\?|$)/.test(rec.path)) {
      // Not asked for by Codex 0.171.0 with a custom provider; answered anyway (an empty list).
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data: [], models: [] }));
      return done();
    }
    if (!isResponsesRequest(rec)) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `the stand-in has no route ${rec.method} ${rec.path}`, type: 'not_found' } }));
      return done();
    }
    let reply: ResponsesReply;
    try {
      reply = await current(rec, api);
    } catch (err) {
      reply = { text: `stand-in script error: ${String(err)}` };
    }
    rec.reply = reply;
    if ('error' in reply) {
      res.writeHead(reply.error.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: reply.error.message, type: reply.error.type ?? 'invalid_request_error', code: null } }));
      return done();
    }
    const id = rid('resp');
    const model = typeof rec.body?.model === 'string' ? rec.body.model : 'standin';
    const base = { id, object: 'response', created_at: Math.floor(Date.now() / 1000), model, status: 'in_progress', output: [] as any[] };
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-request-id': id });
    let sn = 0;
    const ev = (type: string, data: Record<string, unknown>) => res.write(sseFrame(type, { type, sequence_number: sn++, ...data }));
    ev('response.created', { response: base });
    if ('hangUp' in reply) {
      res.end();
      return done();
    }
    const items = outputItems(reply);
    items.forEach((item, output_index) => {
      if (item.type === 'message') {
        ev('response.output_item.added', { output_index, item: { ...item, status: 'in_progress', content: [] } });
        const text = item.content[0].text as string;
        ev('response.content_part.added', { item_id: item.id, output_index, content_index: 0, part: { type: 'output_text', text: '', annotations: [] } });
        ev('response.output_text.delta', { item_id: item.id, output_index, content_index: 0, delta: text });
        ev('response.output_text.done', { item_id: item.id, output_index, content_index: 0, text });
        ev('response.content_part.done', { item_id: item.id, output_index, content_index: 0, part: item.content[0] });
      } else {
        ev('response.output_item.added', { output_index, item: { ...item, status: 'in_progress', arguments: '' } });
        ev('response.function_call_arguments.delta', { item_id: item.id, output_index, delta: item.arguments });
        ev('response.function_call_arguments.done', { item_id: item.id, output_index, arguments: item.arguments });
      }
      ev('response.output_item.done', { output_index, item });
    });
    const usage = {
      input_tokens: Math.max(1, Math.ceil(raw.length / 4)), input_tokens_details: { cached_tokens: 0 },
      output_tokens: 5, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: Math.ceil(raw.length / 4) + 5,
    };
    ev('response.completed', { response: { ...base, status: 'completed', output: items, usage } });
    res.end();
    done();
  }

  const port = await listenLocal(server);
  const url = `http://127.0.0.1:${port}`;
  const api: ResponsesStandin = {
    url,
    baseUrl: `${url}/v1`,
    port,
    get requests() {
      return log.requests;
    },
    nextSeq: () => log.nextSeq(),
    waitForRequest: (pred, what, timeoutMs, fromSeq) => log.waitForRequest(pred, what, timeoutMs, fromSeq),
    setScript(s) {
      current = s;
    },
    modelRequests() {
      return log.requests.filter(isResponsesRequest);
    },
    close: () => closeServer(server),
  };
  return api;
}
