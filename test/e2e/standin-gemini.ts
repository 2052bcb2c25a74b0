// A stand-in for the Gemini API as the real Gemini CLI (0.61.0) uses it with
// `GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:PORT`, `GEMINI_API_KEY` and
// `security.auth.selectedType: "gemini-api-key"`, good enough to drive it offline. One instance
// per Gemini CLI session keeps the recorded requests unambiguous.
//
// Routes (measured): `POST /v1beta/models/<model>:streamGenerateContent?alt=sse` (the agent
// loop, answered as server-sent events of GenerateContentResponse chunks),
// `POST /v1beta/models/<model>:generateContent` (side calls: the model router's classifier, which
// asks for JSON, and others such as next-speaker checks), `POST .../<model>:countTokens`.
// Anything else is recorded and answered 404.
//
// What the model says is decided per test by a script: a function from the recorded request to
// text or one or more `functionCall` parts. Side calls get `sideReply` (default: a JSON answer
// that routes to the default model, or a plain "OK").

import http from 'node:http';
import { closeServer, listenLocal, Recorded, recordingServer, RequestLog, sseFrame, Waitable } from './recorder.js';

export { nowMs } from './recorder.js';

export interface GeminiFunctionCall {
  name: string;
  args?: Record<string, unknown>;
  id?: string;
}

export type GeminiReply =
  | { text: string }
  | { call: GeminiFunctionCall; text?: string }
  | { calls: GeminiFunctionCall[]; text?: string }
  | { error: { status: number; message: string; code?: string } };

export type GeminiRequest = Recorded<GeminiReply>;
export type GeminiScript = (req: GeminiRequest, standin: GeminiStandin) => GeminiReply | Promise<GeminiReply>;

export interface GeminiStandin extends Waitable<GeminiRequest> {
  url: string;
  port: number;
  setScript(script: GeminiScript): void;
  /** Answers for non-streaming generateContent calls (router, checks). */
  setSideScript(script: GeminiScript): void;
  /** The agent loop's requests (streamGenerateContent). */
  modelRequests(): GeminiRequest[];
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Reading what the model received

export interface Part {
  text?: string;
  thought?: boolean;
  functionCall?: { name: string; args?: unknown; id?: string };
  functionResponse?: { name: string; response?: unknown; id?: string };
  [k: string]: unknown;
}

export interface Content {
  role?: string;
  parts?: Part[];
}

/** `:streamGenerateContent` (the agent loop). */
export function isStreamRequest(r: Recorded): boolean {
  return r.method === 'POST' && /:streamGenerateContent(\?|$)/.test(r.path);
}

/** `:generateContent` (side calls such as the router). */
export function isGenerateRequest(r: Recorded): boolean {
  return r.method === 'POST' && /:generateContent(\?|$)/.test(r.path);
}

export function isCountTokens(r: Recorded): boolean {
  return r.method === 'POST' && /:countTokens(\?|$)/.test(r.path);
}

export function contents(r: Recorded): Content[] {
  return Array.isArray(r.body?.contents) ? (r.body.contents as Content[]) : [];
}

export function partText(p: Part): string {
  if (typeof p.text === 'string') return p.text;
  if (p.functionCall) return `${p.functionCall.name}(${JSON.stringify(p.functionCall.args ?? {})})`;
  if (p.functionResponse) {
    // Gemini CLI sends a tool's result as `{output: "<text>"}` (or `{error: ...}`): the text itself.
    const resp = (p.functionResponse.response ?? {}) as Record<string, unknown>;
    if (typeof resp.output === 'string') return resp.output;
    if (typeof resp.error === 'string') return resp.error;
    return JSON.stringify(resp);
  }
  return '';
}

export function contentText(c: Content): string {
  return (c.parts ?? []).map(partText).filter(Boolean).join('\n');
}

export function systemText(r: Recorded): string {
  const si = r.body?.systemInstruction;
  if (!si) return '';
  if (typeof si === 'string') return si;
  return contentText(si as Content);
}

/** The whole prompt: system instruction and every content. */
export function requestText(r: Recorded): string {
  return [systemText(r), ...contents(r).map(contentText)].join('\n');
}

/** The newest turn: the contents after the model's last one (the user turn or function responses). */
export function newestContents(r: Recorded): Content[] {
  const cs = contents(r);
  let k = cs.length;
  while (k > 0 && cs[k - 1].role !== 'model') k--;
  return cs.slice(k);
}

export function newestText(r: Recorded): string {
  return newestContents(r).map(contentText).join('\n');
}

/** Every `<hook_context>...</hook_context>` in the request's contents. */
export function hookContexts(r: Recorded): string[] {
  const out: string[] = [];
  const re = /<hook_context>([\s\S]*?)<\/hook_context>/g;
  for (const c of contents(r)) {
    const t = contentText(c);
    let m: RegExpExecArray | null;
    while ((m = re.exec(t))) out.push(m[1]);
  }
  return out;
}

export function functionCalls(r: Recorded): { name: string; args?: unknown; id?: string }[] {
  const out: { name: string; args?: unknown; id?: string }[] = [];
  for (const c of contents(r)) for (const p of c.parts ?? []) if (p.functionCall) out.push(p.functionCall);
  return out;
}

export function functionResponses(r: Recorded): { name: string; response?: unknown; id?: string }[] {
  const out: { name: string; response?: unknown; id?: string }[] = [];
  for (const c of contents(r)) for (const p of c.parts ?? []) if (p.functionResponse) out.push(p.functionResponse);
  return out;
}

/** The response to the newest call of `name`, as JSON text, once it is there. */
export function lastToolResult(r: Recorded, name: string): string | undefined {
  const rs = functionResponses(r).filter((f) => f.name === name);
  const last = rs[rs.length - 1];
  return last ? JSON.stringify(last.response ?? {}) : undefined;
}

/** Names of the functions declared in the request's tools. */
export function toolNames(r: Recorded): string[] {
  const out: string[] = [];
  for (const t of (r.body?.tools ?? []) as any[]) for (const f of t?.functionDeclarations ?? []) out.push(f.name);
  return out;
}

export function toolDeclaration(r: Recorded, name: string): any {
  for (const t of (r.body?.tools ?? []) as any[]) for (const f of t?.functionDeclarations ?? []) if (f.name === name) return f;
  return undefined;
}

/** The model named in the request path. */
export function modelOf(r: Recorded): string | undefined {
  return /\/models\/([^:/?]+)/.exec(r.path)?.[1];
}

// ---------------------------------------------------------------------------------------------
// Script helpers

/** Calls `call` once after the newest user text turn, then answers `done`. */
export function callOnceScript(call: GeminiFunctionCall, done = 'Done.'): GeminiScript {
  return (r) => {
    const cs = contents(r);
    let k = cs.length - 1;
    while (k >= 0 && !(cs[k].role === 'user' && (cs[k].parts ?? []).some((p) => typeof p.text === 'string'))) k--;
    const after = cs.slice(Math.max(k, 0));
    const made = after.some((c) => (c.parts ?? []).some((p) => p.functionCall?.name === call.name));
    return made ? { text: done } : { call };
  };
}

export const defaultGeminiScript: GeminiScript = () => ({ text: 'OK.' });

/**
 * Side calls: the router asks for JSON (`responseMimeType: application/json`, with a schema whose
 * properties name the choice); answer with the properties it asks for, choosing "flash", the
 * cheap route. Anything else: "OK".
 */
export const defaultSideScript: GeminiScript = (r) => {
  const gc = r.body?.generationConfig ?? {};
  if (gc.responseMimeType === 'application/json' || gc.responseJsonSchema || gc.responseSchema) {
    const schema = gc.responseJsonSchema ?? gc.responseSchema ?? {};
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries<any>(schema.properties ?? {})) {
      if (/^boolean$/i.test(String(v?.type))) out[k] = false;
      else if (Array.isArray(v?.enum)) out[k] = v.enum.includes('flash') ? 'flash' : v.enum[0];
      // Scores are 1-100 (the classifier rejects 0): the lowest routes to the cheap model.
      else if (/^(number|integer)$/i.test(String(v?.type))) out[k] = 1;
      else out[k] = /choice|model/i.test(k) ? 'flash' : /speaker/i.test(k) ? 'user' : 'stand-in';
    }
    return { text: JSON.stringify(out) };
  }
  return { text: 'OK' };
};

// ---------------------------------------------------------------------------------------------
// The server

function partsOf(reply: Exclude<GeminiReply, { error: unknown }>): Part[] {
  const parts: Part[] = [];
  if ('text' in reply && reply.text !== undefined) parts.push({ text: reply.text });
  const calls = 'call' in reply ? [reply.call] : 'calls' in reply ? reply.calls : [];
  for (const c of calls) parts.push({ functionCall: { name: c.name, args: c.args ?? {}, ...(c.id ? { id: c.id } : {}) } });
  return parts;
}

export async function startGeminiStandin(
  script: GeminiScript = defaultGeminiScript,
  label = 'gemini stand-in',
  sideScript: GeminiScript = defaultSideScript,
): Promise<GeminiStandin> {
  let current = script;
  let side = sideScript;
  const log = new RequestLog<GeminiRequest>(label, (r) => newestText(r), isStreamRequest);

  const server = recordingServer(log, handle, (message) => ({ error: { code: 500, message, status: 'INTERNAL' } }));

  async function handle(rec: GeminiRequest, raw: string, res: http.ServerResponse, done: () => void) {
    const model = modelOf(rec) ?? 'gemini-standin';
    const usage = { promptTokenCount: Math.max(1, Math.ceil(raw.length / 4)), candidatesTokenCount: 5, totalTokenCount: Math.ceil(raw.length / 4) + 5 };
    if (isCountTokens(rec)) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ totalTokens: usage.promptTokenCount }));
      return done();
    }
    if (!isStreamRequest(rec) && !isGenerateRequest(rec)) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 404, message: `the stand-in has no route ${rec.method} ${rec.path}`, status: 'NOT_FOUND' } }));
      return done();
    }
    let reply: GeminiReply;
    try {
      reply = await (isStreamRequest(rec) ? current : side)(rec, api);
    } catch (err) {
      reply = { text: `stand-in script error: ${String(err)}` };
    }
    rec.reply = reply;
    if ('error' in reply) {
      res.writeHead(reply.error.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: reply.error.status, message: reply.error.message, status: reply.error.code ?? 'INVALID_ARGUMENT' } }));
      return done();
    }
    const candidate = { content: { role: 'model', parts: partsOf(reply) }, finishReason: 'STOP', index: 0 };
    const body = { candidates: [candidate], usageMetadata: usage, modelVersion: model, responseId: `resp-${rec.seq}` };
    if (isGenerateRequest(rec)) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
      return done();
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.write(sseFrame(undefined, body));
    res.end();
    done();
  }

  const port = await listenLocal(server);
  const api: GeminiStandin = {
    url: `http://127.0.0.1:${port}`,
    port,
    get requests() {
      return log.requests;
    },
    nextSeq: () => log.nextSeq(),
    waitForRequest: (pred, what, timeoutMs, fromSeq) => log.waitForRequest(pred, what, timeoutMs, fromSeq),
    setScript(s) {
      current = s;
    },
    setSideScript(s) {
      side = s;
    },
    modelRequests() {
      return log.requests.filter(isStreamRequest);
    },
    close: () => closeServer(server),
  };
  return api;
}
