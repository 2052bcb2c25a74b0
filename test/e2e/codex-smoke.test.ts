// Smoke tests with the real Codex CLI (0.171.0), offline, against the Responses API stand-in:
// Codex starts against it, its model calls cc-dm's `who` and the result reaches the next model
// request, and hooks' `additionalContext` reaches the model. Every assertion reads what the
// stand-in recorded, so a broken path fails the test.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { CodexEnv, withCodex } from './codex.js';
import { waitForWho } from './agent-peers.js';
import { ensureTmux, loadavg } from './harness-common.js';
import {
  ResponsesRequest, developerMessages, functionCalls, isResponsesRequest, namespaceTools, newestText, offeredTools,
  threadIdOf, toolResults, userMessages,
} from './standin-responses.js';

const NS = 'mcp__cc_dm';

/** The model: call `who` once per user turn, then say done. */
function whoOnce(r: ResponsesRequest) {
  const items = (r.body?.input ?? []) as any[];
  let lastUser = -1;
  items.forEach((i, k) => {
    if (i.type === 'message' && i.role === 'user' && !/^<environment_context>/.test(JSON.stringify(i.content?.[0]?.text ?? ''))) lastUser = k;
  });
  const called = items.slice(lastUser + 1).some((i) => i.type === 'function_call' && i.name === 'who');
  return called ? { text: 'Done.' } : { call: { namespace: NS, name: 'who', arguments: {} } };
}

function whoResult(env: CodexEnv): { req: ResponsesRequest; text: string } | undefined {
  for (const r of env.standin.modelRequests()) {
    const call = functionCalls(r).find((c) => c.name === 'who' && c.namespace === NS);
    const out = call?.call_id ? toolResults(r).get(call.call_id) : undefined;
    if (out) return { req: r, text: out };
  }
  return undefined;
}

test('codex exec: cc-dm is one namespace tool, `who` answers, hook additionalContext reaches the model', async () => {
  const name = `cdx-${randomUUID().slice(0, 6)}`;
  await withCodex('codex-exec', { sessionName: name, script: whoOnce, hooks: ['SessionStart', 'UserPromptSubmit', 'PostToolUse', 'Stop'] }, async (env) => {
    const tokens = { start: randomUUID(), prompt: randomUUID(), post: randomUUID() };
    env.setHookReply('SessionStart', { hookSpecificOutput: { hookEventName: 'SessionStart', additionalContext: `start-ctx ${tokens.start}` } });
    env.setHookReply('UserPromptSubmit', { hookSpecificOutput: { hookEventName: 'UserPromptSubmit', additionalContext: `prompt-ctx ${tokens.prompt}` } });
    env.setHookReply('PostToolUse', { hookSpecificOutput: { hookEventName: 'PostToolUse', additionalContext: `post-ctx ${tokens.post}` } });

    const t0 = Date.now();
    const r = await env.exec('Who is on the bus?');
    process.stderr.write(`[codex-smoke] codex exec took ${Date.now() - t0} ms (load ${loadavg()})\n`);
    assert.equal(r.code, 0, `codex exec failed:\n${r.stdout}\n${r.stderr}`);

    const reqs = env.standin.modelRequests();
    assert.ok(reqs.length >= 2, `expected at least 2 model requests, got ${reqs.length}`);
    const first = reqs[0];
    assert.ok(isResponsesRequest(first) && first.body?.stream === true, 'a streamed POST /v1/responses');

    // cc-dm's tools: one namespace tool, its description is cc-dm's server instructions.
    const ns = namespaceTools(first).get(NS);
    assert.ok(ns, `namespace tool ${NS} offered; namespaces: ${[...namespaceTools(first).keys()].join(', ')}`);
    const fns = offeredTools(first).filter((t) => t.namespace === NS).map((t) => t.name);
    for (const tool of ['dm', 'who', 'broadcast', 'register']) assert.ok(fns.includes(tool), `${NS} has ${tool} (has ${fns.join(', ')})`);
    assert.match(String(ns.description), new RegExp(`"${name}"`), 'the namespace description carries the server instructions with the session name');

    // who's result reaches the next request.
    const who = whoResult(env);
    assert.ok(who, 'a later request carries the output of the who call');
    const json = JSON.parse(who.text.slice(who.text.indexOf('{')));
    assert.equal(json.you, name, `who says who we are: ${who.text.slice(0, 300)}`);
    assert.ok(json.sessions.some((s: any) => s.name === name), 'the roster lists this session');

    // additionalContext arrives as developer messages, verbatim.
    assert.ok(developerMessages(first).some((m) => m.includes(tokens.start)), 'SessionStart additionalContext in the first request');
    assert.ok(developerMessages(first).some((m) => m.includes(tokens.prompt)), 'UserPromptSubmit additionalContext in the first request');
    assert.ok(developerMessages(who.req).some((m) => m.includes(tokens.post)), 'PostToolUse additionalContext in the request after the tool call');
    assert.ok(userMessages(first).some((m) => m.includes('Who is on the bus?')), 'the prompt itself is a user message');

    // The hooks saw the thread id the model requests carry.
    const thread = threadIdOf(first);
    const stop = env.hookRecords('Stop')[0];
    assert.ok(stop, 'the Stop hook ran');
    assert.equal(stop.input.session_id, thread, 'hook input session_id = the thread id of the model requests');
  });
});

test('codex TUI (in-process): a typed prompt reaches the stand-in; who and a UserPromptSubmit context arrive', async () => {
  ensureTmux();
  const name = `cdxi-${randomUUID().slice(0, 6)}`;
  // A model calls only the tools it is offered: a turn Codex starts before cc-dm's MCP server has
  // listed its tools (the in-process TUI does not wait for it; 3 runs in 9 under load) gets a
  // plain answer, and the user asks again, as one would.
  const offersWho = (r: ResponsesRequest) => offeredTools(r).some((t) => t.namespace === NS && t.name === 'who');
  const script = (r: ResponsesRequest) => (offersWho(r) ? whoOnce(r) : { text: 'cc-dm is not there yet.' });
  await withCodex('codex-tui', { sessionName: name, script, hooks: ['UserPromptSubmit', 'Stop'] }, async (env) => {
    const token = randomUUID();
    env.setHookReply('UserPromptSubmit', { hookSpecificOutput: { hookEventName: 'UserPromptSubmit', additionalContext: `prompt-ctx ${token}` } });
    const s = await env.startInteractive({ name: 'tui' });
    await s.ready(90_000);
    await waitForWho(env, name, {}, env.baseEnv({}), 60_000);
    let stops = 0;
    for (let turn = 1; ; turn++) {
      await s.ready(60_000);
      stops = env.hookRecords('Stop').length;
      const prompt = `Who is there? (${turn})`;
      await s.submit(prompt);
      const withPrompt = await env.standin.waitForRequest((r) => newestText(r).includes(prompt), 'the typed prompt', 60_000);
      assert.ok(developerMessages(withPrompt).some((m) => m.includes(token)), 'UserPromptSubmit additionalContext in the prompt request');
      if (offersWho(withPrompt)) break;
      assert.ok(turn < 4, `cc-dm's tools are offered by the fourth turn (turn ${turn} had none)`);
      process.stderr.write(`[codex-smoke] turn ${turn} was not offered cc-dm's tools (load ${loadavg()}): asking again\n`);
      await env.waitForHook((h) => h.label === 'Stop' && env.hookRecords('Stop').length > stops, 'the end of the turn without tools', 30_000);
    }
    await env.standin.waitForRequest(() => !!whoResult(env), 'a request carrying the who result', 60_000);
    const text = whoResult(env)!.text;
    assert.ok(text.includes('{'), `who answered with JSON: ${text}`);
    const json = JSON.parse(text.slice(text.indexOf('{')));
    assert.equal(json.you, name);
    await env.waitForHook((h) => h.label === 'Stop' && env.hookRecords('Stop').length > stops, 'the Stop hook at the end of the turn', 30_000);
  });
});
