// Facts about Gemini CLI 0.61.0 that cc-dm's Gemini support is built on, measured with the real
// CLI offline (see AGENT-CLIS.md). Each test asserts what was found, so a new Gemini CLI version
// that changes a fact fails here, naming it. Timings are printed with the load average.
//
//   node --test --test-concurrency=1 dist/test/e2e/gemini-facts.test.js

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { withGemini } from './gemini.js';
import { PROBE_MCP, ensureTmux, loadavg, waitUntil } from './harness-common.js';
import { pidAlive } from './proc.js';
import { GeminiRequest, contents, contentText, functionCalls, hookContexts, isStreamRequest, newestContents, newestText } from './standin-gemini.js';

// Opt-in (CC_DM_E2E_FACTS=1, or npm run test:e2e:agents:facts): these re-establish third-party
// behaviour of the pinned CLI versions, run them when bumping a pin. Skipped with this reason otherwise.
const FACTS = process.env.CC_DM_E2E_FACTS === '1' ? {} : { skip: 'facts about the pinned CLI: set CC_DM_E2E_FACTS=1 (npm run test:e2e:agents:facts)' };

const report = (msg: string) => process.stderr.write(`[gemini-facts] ${msg} (load ${loadavg()})\n`);

function probeScript(r: GeminiRequest) {
  const n = functionCalls(r).length;
  if (n === 0) return { call: { name: 'mcp_probe_probe_echo', args: { text: 'hi' } } };
  if (n === 1) return { call: { name: 'mcp_probe_probe_push', args: { content: 'PUSHED-XYZZY' } } };
  return { text: 'Done.' };
}

test('gemini -p: environment, _meta, dropped pushes, hook framing, AfterAgent deny, session id', FACTS, async () => {
  const sessionId = randomUUID();
  await withGemini('gfacts-headless', {
    probe: true, ccdmServer: false, script: probeScript,
    hooks: ['SessionStart', 'BeforeAgent', 'BeforeTool', 'AfterTool', 'AfterAgent', 'SessionEnd'],
  }, async (env) => {
    const odd = `<b>x</b> & "q" </hook_context>`;
    for (const e of ['SessionStart', 'BeforeAgent', 'BeforeTool', 'AfterTool']) {
      env.setHookReply(e, { hookSpecificOutput: { hookEventName: e, additionalContext: `CTX-${e} ${odd}` } });
    }
    env.setHookReply('AfterAgent', { decision: 'deny', reason: `DENY-REASON ${odd}` }, true);
    const r = await env.headless('probe please', {
      env: { PLAIN_VAR: 'p', MY_SECRET_TOKEN: 's', FOO_KEY: 'k', SOME_PASSWORD: 'pw', CC_DM_SESSION_NAME: 'launch-name' },
      extraArgs: ['--session-id', sessionId],
    });
    assert.equal(r.code, 0, r.stderr);

    // The launch environment reaches the MCP server, minus secret-looking names.
    const start = env.mcpRecords().find((m) => m.dir === 'start')!;
    const e = start.env!;
    assert.equal(e.PLAIN_VAR, 'p');
    assert.equal(e.CC_DM_SESSION_NAME, 'launch-name');
    assert.equal(e.GEMINI_CLI, '1');
    for (const k of ['MY_SECRET_TOKEN', 'FOO_KEY', 'SOME_PASSWORD', 'GEMINI_API_KEY', 'GEMINI_SESSION_ID']) assert.equal(e[k], undefined, `${k} is not passed to the MCP server`);
    report(`MCP server env keys: ${Object.keys(e).sort().join(',')}`);
    // ... and its parent is the Gemini CLI process.
    assert.match(start.chain![1].cmdline, /gemini\.js/, 'the MCP server is a child of the gemini process');

    // tools/call carries no session: only a progress token.
    const call = env.mcpRecords().find((m) => m.dir === 'in' && m.msg?.method === 'tools/call')!;
    assert.deepEqual(Object.keys(call.msg.params._meta ?? {}), ['progressToken']);

    // Session id: --session-id sets it; hook input and hook environment carry it.
    for (const h of env.hookRecords()) {
      assert.equal(h.input.session_id, sessionId, `${h.label}: input session_id = --session-id`);
      assert.equal(h.env.GEMINI_SESSION_ID, sessionId, `${h.label}: GEMINI_SESSION_ID`);
    }
    assert.equal(env.hookRecords('SessionEnd')[0]?.input.reason, 'exit');

    const reqs = env.standin.modelRequests();
    const last = reqs[reqs.length - 1];
    assert.equal(JSON.stringify(last.body).split('PUSHED-XYZZY').length - 1, 1, 'the push never reaches the model (only the call args mention it)');

    // hook_context: < and > escaped, & and quotes not; the closing tag cannot be forged.
    const esc = `&lt;b&gt;x&lt;/b&gt; & "q" &lt;/hook_context&gt;`;
    const all = contents(last).map(contentText).join('\n');
    for (const k of ['SessionStart', 'BeforeAgent', 'AfterTool']) assert.ok(all.includes(`<hook_context>CTX-${k} ${esc}</hook_context>`), `${k} additionalContext as <hook_context>, escaped`);
    assert.ok(!all.includes('CTX-BeforeTool'), 'BeforeTool additionalContext is not shown');
    // MCP results are wrapped as untrusted; AfterTool context follows inside the same output.
    assert.match(all, /<untrusted_context>\n\{"echo":"hi"/);
    // AfterAgent deny: the reason starts another turn as a user message, NOT escaped.
    const deny = contents(last).find((c) => c.role === 'user' && contentText(c).startsWith('DENY-REASON'));
    assert.ok(deny, 'the deny reason is a new user turn');
    assert.ok(contentText(deny!).startsWith(`DENY-REASON ${odd}`), 'verbatim, unescaped');
    assert.equal(env.hookRecords('AfterAgent').length, 2, 'AfterAgent runs again after the extra turn');
    assert.equal(env.hookRecords('AfterAgent')[1].input.stop_hook_active, true);
  });
});

test('gemini TUI: a finishing background command wakes the idle session (steering + inject)', FACTS, async () => {
  ensureTmux();
  let fifo = '';
  await withGemini('gfacts-wake', {
    probe: true, ccdmServer: false, hooks: ['BeforeAgent', 'AfterAgent', 'SessionEnd'],
    settings: { experimental: { modelSteering: true }, tools: { shell: { backgroundCompletionBehavior: 'inject' } } },
    // The model starts the waiter when asked, and re-arms it in every turn the waiter woke.
    script: (r) =>
      /start waiter|User steering update:[\s\S]*MAIL-\d/.test(newestText(r))
        ? { call: { name: 'run_shell_command', args: { command: `cat ${fifo}`, description: 'wait for mail', is_background: true } } }
        : { text: 'OK.' },
  }, async (env) => {
    fifo = path.join(env.root, 'wake.fifo');
    execFileSync('mkfifo', [fifo]);
    const s = await env.startInteractive({ name: 'gem' });
    await s.ready(90_000);
    env.setHookReply('BeforeAgent', { hookSpecificOutput: { hookEventName: 'BeforeAgent', additionalContext: 'MAIL-VIA-HOOK' } });
    await s.submit('start waiter');
    await env.standin.waitForRequest((r) => isStreamRequest(r) && /start waiter/.test(newestText(r)), 'the prompt', 60_000);
    await env.waitForHook((h) => h.label === 'AfterAgent', 'the turn to end (idle, waiter in the background)', 60_000);
    const mcpPid = (await waitUntil(() => env.mcpRecords().find((m) => m.dir === 'start'), 'probe server', 10_000)).pid;
    const lat: number[] = [];
    let lastWake = 0;
    for (let k = 1; k <= 2; k++) {
      if (k > 1) {
        // The woken turn re-armed the waiter (a new background command) and ended.
        const n = k - 1;
        await waitUntil(() => env.hookRecords('AfterAgent').filter((h) => h.t >= lastWake).length >= 1 || undefined, `idle again after wake ${n}`, 60_000);
      }
      const from = env.standin.nextSeq();
      // Non-blocking open: fails at once (ENXIO) instead of freezing the test if no waiter reads.
      const fd = await waitUntil(() => {
        try {
          return fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
        } catch {
          return undefined;
        }
      }, 'the background waiter to open the FIFO', 15_000);
      fs.writeSync(fd, `MAIL-${k} <b>x</b> & more\n`);
      const t0 = performance.timeOrigin + performance.now();
      fs.closeSync(fd);
      const r = await env.standin.waitForRequest((x) => isStreamRequest(x) && JSON.stringify(x.body).includes(`MAIL-${k}`), `the woken request ${k}`, 30_000, from);
      lat.push(Math.round(r.at - t0));
      lastWake = Date.now();
      const text = newestContents(r).map(contentText).join('\n');
      assert.match(text, /^User steering update:\n<user_input>\n<output> \[Background command completed successfully\./, 'framed as a user steering update');
      assert.ok(text.includes(`MAIL-${k} <b>x</b> & more`), 'the output verbatim (not escaped)');
      assert.ok(hookContexts(r).includes('MAIL-VIA-HOOK'), "BeforeAgent's additionalContext is in the woken request");
      await env.waitForHook((h) => h.label === 'BeforeAgent' && /User steering update/.test(h.input.prompt ?? '') && h.t >= t0, 'BeforeAgent on the woken turn', 30_000);
    }
    report(`background command exit -> model request: ${lat.join(', ')} ms`);
    // Let the last woken turn (it re-arms the waiter) end: input typed during a turn is steering.
    await waitUntil(() => env.hookRecords('AfterAgent').some((h) => h.t >= lastWake) || undefined, 'the last woken turn to end', 60_000);
    const tq = Date.now();
    await s.submit('/quit');
    const end = await waitUntil(() => env.hookRecords('SessionEnd')[0], 'SessionEnd on /quit', 60_000, () => s.describe());
    await waitUntil(() => !pidAlive(mcpPid) || undefined, 'the MCP server to exit', 30_000);
    report(`/quit -> SessionEnd after ${end.t - tq} ms; SessionEnd records: ${env.hookRecords('SessionEnd').length}`);
  });
});

test('gemini -p without yolo: an MCP server with trust: true runs its tools; without it -p does not even offer them', FACTS, async () => {
  const call = (name: string) => (r: GeminiRequest) => (functionCalls(r).length === 0 ? { call: { name, args: { text: 'x' } } } : { text: 'Done.' });
  for (const trust of [true, false]) {
    await withGemini(`gfacts-trust-${trust}`, { ccdmServer: false, hooks: false, probe: false, script: call('mcp_p_probe_echo') }, async (env) => {
      const s = env.settings();
      s.mcpServers.p = { command: process.execPath, args: [PROBE_MCP], env: { PROBE_MCP_LOG: path.join(env.probeDir, 'mcp.jsonl') }, trust };
      fs.writeFileSync(env.settingsFile, JSON.stringify(s, null, 2));
      const r = await env.gemini(['-p', 'go']);
      const reached = env.mcpRecords().some((m) => m.dir === 'in' && m.msg?.method === 'tools/call');
      const last = env.standin.modelRequests().pop();
      const resp = last ? JSON.stringify(functionResponsesOf(last)).slice(0, 300) : '';
      report(`trust: ${trust}: exit ${r.code}, tool reached the server: ${reached}; response: ${resp}`);
      assert.equal(reached, trust, `trust: ${trust}`);
    });
  }
});

function functionResponsesOf(r: GeminiRequest) {
  return contents(r).flatMap((c) => (c.parts ?? []).filter((p) => p.functionResponse).map((p) => p.functionResponse));
}
