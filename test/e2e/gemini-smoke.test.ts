// Smoke tests with the real Gemini CLI (0.61.0), offline, against the Gemini API stand-in:
// Gemini CLI starts against it, its model calls cc-dm's `who` and the result reaches the next
// model request, and hooks' `additionalContext` reaches the model as `<hook_context>`. Every
// assertion reads what the stand-in recorded, so a broken path fails the test.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { GeminiEnv, withGemini } from './gemini.js';
import { ensureTmux, loadavg } from './harness-common.js';
import {
  GeminiRequest, contents, functionCalls, functionResponses, hookContexts, isGenerateRequest, isStreamRequest, newestText, toolNames,
} from './standin-gemini.js';

const WHO = 'mcp_cc-dm_who';

/** The model: call `who` once per user text turn, then say done. */
function whoOnce(r: GeminiRequest) {
  const cs = contents(r);
  let k = cs.length - 1;
  while (k >= 0 && !(cs[k].role === 'user' && (cs[k].parts ?? []).some((p) => typeof p.text === 'string'))) k--;
  const called = cs.slice(Math.max(k, 0)).some((c) => (c.parts ?? []).some((p) => p.functionCall?.name === WHO));
  return called ? { text: 'Done.' } : { call: { name: WHO, args: {} } };
}

function whoResult(env: GeminiEnv): { req: GeminiRequest; json: any } | undefined {
  for (const r of env.standin.modelRequests()) {
    const resp = functionResponses(r).find((f) => f.name === WHO);
    if (!resp) continue;
    const out = String((resp.response as any)?.output ?? '');
    const m = /\{[\s\S]*\}/.exec(out);
    if (m) return { req: r, json: JSON.parse(m[0]) };
  }
  return undefined;
}

test('gemini -p: cc-dm tools are mcp_cc-dm_<tool>, `who` answers, hook additionalContext arrives as <hook_context>', async () => {
  const name = `gem-${randomUUID().slice(0, 6)}`;
  await withGemini('gemini-headless', { sessionName: name, script: whoOnce, hooks: ['SessionStart', 'BeforeAgent', 'AfterTool', 'AfterAgent'] }, async (env) => {
    const tokens = { start: randomUUID(), agent: randomUUID(), tool: randomUUID() };
    env.setHookReply('SessionStart', { hookSpecificOutput: { hookEventName: 'SessionStart', additionalContext: `start-ctx ${tokens.start}` } });
    env.setHookReply('BeforeAgent', { hookSpecificOutput: { hookEventName: 'BeforeAgent', additionalContext: `agent-ctx ${tokens.agent}` } });
    env.setHookReply('AfterTool', { hookSpecificOutput: { hookEventName: 'AfterTool', additionalContext: `tool-ctx ${tokens.tool}` } });

    const t0 = Date.now();
    const r = await env.headless('Who is on the bus?');
    process.stderr.write(`[gemini-smoke] gemini -p took ${Date.now() - t0} ms (load ${loadavg()})\n`);
    assert.equal(r.code, 0, `gemini -p failed:\n${r.stdout}\n${r.stderr}`);

    const reqs = env.standin.modelRequests();
    assert.ok(reqs.length >= 2, `expected at least 2 streamGenerateContent requests, got ${reqs.length}`);
    assert.ok(env.standin.requests.some(isGenerateRequest), 'the router made its generateContent call');
    const first = reqs[0];
    assert.ok(isStreamRequest(first) && /alt=sse/.test(first.path), 'streamGenerateContent?alt=sse');
    for (const tool of ['dm', 'who', 'broadcast', 'register']) assert.ok(toolNames(first).includes(`mcp_cc-dm_${tool}`), `tool mcp_cc-dm_${tool} declared`);

    const who = whoResult(env);
    assert.ok(who, 'a later request carries the who function response');
    assert.equal(who.json.you, name, 'who says who we are');
    assert.ok(functionCalls(who.req).some((c) => c.name === WHO), 'the call is in the history');

    const firstCtx = hookContexts(first).join('\n');
    assert.match(firstCtx, new RegExp(tokens.start), 'SessionStart additionalContext in the first request');
    assert.match(firstCtx, new RegExp(tokens.agent), 'BeforeAgent additionalContext in the first request');
    assert.match(hookContexts(who.req).join('\n'), new RegExp(tokens.tool), 'AfterTool additionalContext beside the tool result');

    const hook = env.hookRecords('BeforeAgent')[0];
    assert.ok(hook?.input?.session_id, 'BeforeAgent input carries session_id');
    assert.equal(hook.env.GEMINI_SESSION_ID, hook.input.session_id, 'GEMINI_SESSION_ID in the hook environment = session_id');
  });
});

test('gemini TUI: a typed prompt reaches the stand-in; who and a BeforeAgent context arrive', async () => {
  ensureTmux();
  const name = `gemi-${randomUUID().slice(0, 6)}`;
  await withGemini('gemini-tui', { script: whoOnce, hooks: ['BeforeAgent', 'AfterAgent'] }, async (env) => {
    const token = randomUUID();
    env.setHookReply('BeforeAgent', { hookSpecificOutput: { hookEventName: 'BeforeAgent', additionalContext: `agent-ctx ${token}` } });
    // The session name comes from the launch environment (Gemini CLI passes it to MCP servers).
    const s = await env.startInteractive({ name: 'tui', env: { CC_DM_SESSION_NAME: name } });
    await s.ready(90_000);
    await s.submit('Who is there please');
    const withPrompt = await env.standin.waitForRequest((r) => isStreamRequest(r) && newestText(r).includes('Who is there please'), 'the typed prompt', 60_000);
    assert.match(hookContexts(withPrompt).join('\n'), new RegExp(token), 'BeforeAgent additionalContext in the prompt request');
    await env.standin.waitForRequest(() => !!whoResult(env), 'a request carrying the who result', 60_000);
    assert.equal(whoResult(env)!.json.you, name, 'the name from the launch environment');
    await env.waitForHook((h) => h.label === 'AfterAgent', 'AfterAgent at the end of the turn', 30_000);
  });
});
