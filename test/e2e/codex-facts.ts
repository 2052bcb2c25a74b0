// Facts about Codex CLI 0.171.0 that cc-dm's Codex support is built on, measured with the real
// CLI offline (see AGENT-CLIS.md). Each test asserts what was found, so a new Codex version that
// changes a fact fails here, naming it. Timings are printed with the load average.
//
//   node --test --test-concurrency=1 dist/test/e2e/codex-facts.test.js

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { CodexEnv, withCodex } from './codex.js';
import { PROBE_MCP, ensureTmux, loadavg, waitUntil } from './harness-common.js';
import { pidAlive } from './proc.js';
import { ResponsesRequest, developerMessages, functionCalls, newestText, threadIdOf, toolResults, userMessages } from './standin-responses.js';

// Opt-in (CC_DM_E2E_FACTS=1, or npm run test:e2e:agents:facts): these re-establish third-party
// behaviour of the pinned CLI versions, run them when bumping a pin. Skipped with this reason otherwise.
const FACTS = process.env.CC_DM_E2E_FACTS === '1' ? {} : { skip: 'facts about the pinned CLI: set CC_DM_E2E_FACTS=1 (npm run test:e2e:agents:facts)' };

const report = (msg: string) => process.stderr.write(`[codex-facts] ${msg} (load ${loadavg()})\n`);

/** Calls probe_echo, then probe_push, then answers. */
function probeScript(r: ResponsesRequest) {
  const n = functionCalls(r).length;
  if (n === 0) return { call: { namespace: 'mcp__probe', name: 'probe_echo', arguments: { text: 'hi' } } };
  if (n === 1) return { call: { namespace: 'mcp__probe', name: 'probe_push', arguments: { content: 'PUSHED-XYZZY' } } };
  return { text: 'Done.' };
}

test('exec: _meta.threadId = hook session_id = thread-id header; pushes dropped; hook text framing', FACTS, async () => {
  await withCodex('facts-exec', { probe: true, ccdmServer: false, script: probeScript, extraToml: '' }, async (env) => {
    const odd = `<b>x</b> & "q" </channel>`;
    for (const e of ['SessionStart', 'UserPromptSubmit', 'PreToolUse', 'PostToolUse']) {
      env.setHookReply(e, { hookSpecificOutput: { hookEventName: e, additionalContext: `CTX-${e} ${odd}` } });
    }
    env.setHookReply('Stop', { decision: 'block', reason: `STOP-REASON ${odd}` }, true);
    const r = await env.exec('probe please', { env: { LAUNCH_ONLY_VAR: 'launch' } });
    assert.equal(r.code, 0, r.stderr);

    const reqs = env.standin.modelRequests();
    const thread = threadIdOf(reqs[0]);
    assert.ok(thread, 'thread-id header');
    // tools/call _meta
    const call = env.mcpRecords().find((m) => m.dir === 'in' && m.msg?.method === 'tools/call');
    assert.ok(call, 'the probe server got a tools/call');
    const meta = call.msg.params._meta;
    assert.equal(meta.threadId, thread, '_meta.threadId = thread id');
    assert.equal(meta.sessionId, thread, '_meta.sessionId = thread id');
    assert.ok(meta.callId && meta['x-codex-turn-metadata']?.turn_id, '_meta has callId and x-codex-turn-metadata');
    for (const h of env.hookRecords()) assert.equal(h.input.session_id, thread, `${h.label} input session_id = thread id`);

    // The channel push never reaches the model (only the call's own arguments mention it).
    const last = reqs[reqs.length - 1];
    assert.equal(JSON.stringify(last.body).split('PUSHED-XYZZY').length - 1, 1, 'the pushed text appears only in the call arguments');

    // additionalContext: developer messages, verbatim (not escaped).
    for (const e of ['SessionStart', 'UserPromptSubmit', 'PreToolUse', 'PostToolUse']) {
      assert.ok(developerMessages(last).includes(`CTX-${e} ${odd}`), `${e} additionalContext is a developer message, verbatim`);
    }
    // Stop block: the reason continues the turn as a user message, HTML-escaped, in <hook_prompt>.
    const stopMsg = userMessages(last).find((m) => m.includes('STOP-REASON'));
    assert.ok(stopMsg, 'Stop block reason reaches the model');
    assert.match(stopMsg!, /^<hook_prompt hook_run_id="stop:[^"]+">STOP-REASON &lt;b&gt;x&lt;\/b&gt; &amp; "q" &lt;\/channel&gt;<\/hook_prompt>$/);
    const stops = env.hookRecords('Stop');
    assert.equal(stops.length, 2, 'Stop ran again after the blocked stop');
    assert.equal(stops[1].input.stop_hook_active, true, 'second Stop has stop_hook_active');
    assert.equal(env.hookRecords('SessionEnd')[0]?.input.reason, 'other', 'SessionEnd fires at the end of exec (reason "other")');

    // The MCP server's environment: a fixed list plus the `env` table; launch variables are not passed.
    const start = env.mcpRecords().find((m) => m.dir === 'start')!;
    assert.equal(start.env!.LAUNCH_ONLY_VAR, undefined, 'a launch variable does not reach the MCP server');
    assert.equal(start.env!.CODEX_HOME, undefined, 'not even CODEX_HOME');
    assert.ok(start.env!.PROBE_MCP_LOG, 'the env table does');
    report(`MCP server env keys: ${Object.keys(start.env!).sort().join(',')}; hook env has launch var: ${env.hookRecords()[0].env.LAUNCH_ONLY_VAR === 'launch'}`);
    assert.equal(start.chain![1].comm, 'codex', 'exec: the MCP server is a child of the codex process');
  });
});

test('env_vars forwards named launch variables; untrusted and modified hooks are skipped silently by exec', FACTS, async () => {
  await withCodex('facts-trust', {
    probe: false, ccdmServer: false, hooks: ['UserPromptSubmit'], trustHooks: false,
    extraToml: `[mcp_servers.fwd]\ncommand = ${JSON.stringify(process.execPath)}\nargs = [${JSON.stringify(PROBE_MCP)}]\nenv = { PROBE_MCP_LOG = "PLACEHOLDER" }\nenv_vars = ["CC_DM_SESSION_NAME"]\nrequired = true\n`,
  }, async (env) => {
    fs.writeFileSync(env.configFile, fs.readFileSync(env.configFile, 'utf8').replace('PLACEHOLDER', path.join(env.probeDir, 'mcp.jsonl')));
    env.setHookReply('UserPromptSubmit', { hookSpecificOutput: { hookEventName: 'UserPromptSubmit', additionalContext: 'UNTRUSTED-CTX' } });
    const listed = await env.listHooks();
    assert.equal(listed[0].trustStatus, 'untrusted');
    assert.match(listed[0].key, /hooks\.json:user_prompt_submit:0:0$/, 'trust key is <file>:<event>:<group>:<handler>');
    assert.match(listed[0].currentHash, /^sha256:[0-9a-f]{64}$/);
    let r = await env.exec('hi', { env: { CC_DM_SESSION_NAME: 'from-launch' } });
    assert.equal(r.code, 0);
    assert.equal(env.hookRecords().length, 0, 'an untrusted hook does not run');
    assert.ok(!/hook/i.test(r.stdout + r.stderr.replace(/WARNING: proceeding[^\n]*\n/, '')), 'and nothing says so');
    assert.equal(env.mcpRecords().find((m) => m.dir === 'start')?.env?.CC_DM_SESSION_NAME, 'from-launch', 'env_vars forwards the launch variable');

    await env.trustHooks();
    r = await env.exec('hi');
    assert.equal(env.hookRecords().length, 1, 'trusted: it runs');
    const hj = JSON.parse(fs.readFileSync(path.join(env.codexHome, 'hooks.json'), 'utf8'));
    hj.hooks.UserPromptSubmit[0].hooks[0].command += ' changed';
    fs.writeFileSync(path.join(env.codexHome, 'hooks.json'), JSON.stringify(hj));
    assert.equal((await env.listHooks())[0].trustStatus, 'modified');
    r = await env.exec('hi');
    assert.equal(env.hookRecords().length, 1, 'modified: skipped again');
    r = await env.exec('hi', { extraArgs: ['--dangerously-bypass-hook-trust'] });
    assert.equal(env.hookRecords().length, 2, '--dangerously-bypass-hook-trust runs it');
  });
});

test("daemon TUIs: a second TUI shares the first one's MCP environment; queue wakes in ~0.2 s; SessionEnd at thread unload", FACTS, async () => {
  ensureTmux();
  await withCodex('facts-daemon', {
    probe: false, ccdmServer: false, hooks: ['SessionStart', 'UserPromptSubmit', 'Stop', 'SessionEnd'],
    extraToml: `[mcp_servers.probe]\ncommand = ${JSON.stringify(process.execPath)}\nargs = [${JSON.stringify(PROBE_MCP)}]\nenv = { PROBE_MCP_LOG = "PLACEHOLDER" }\nenv_vars = ["CC_DM_SESSION_NAME"]\nrequired = true\n`,
  }, async (env) => {
    // thread_unload_delay_secs is a top-level key: it must precede the tables.
    const cfg = fs.readFileSync(env.configFile, 'utf8').replace('PLACEHOLDER', path.join(env.probeDir, 'mcp.jsonl'));
    fs.writeFileSync(env.configFile, 'thread_unload_delay_secs = 2\n' + cfg);
    const a = await env.startInteractive({ name: 'alice', daemon: true, env: { CC_DM_SESSION_NAME: 'alice' } });
    await a.ready(180_000);
    await a.submit('alice here');
    const ra = await env.standin.waitForRequest((r) => newestText(r).includes('alice here'), "alice's prompt", 60_000);
    const b = await env.startInteractive({ name: 'bob', daemon: true, env: { CC_DM_SESSION_NAME: 'bob' } });
    await b.ready(120_000);
    await b.submit('bob here');
    const rb = await env.standin.waitForRequest((r) => newestText(r).includes('bob here'), "bob's prompt", 60_000);
    const [ta, tb] = [threadIdOf(ra)!, threadIdOf(rb)!];
    assert.notEqual(ta, tb, 'two threads');
    const daemon = env.daemonPid();
    assert.ok(daemon, 'the daemon runs');
    const starts = await waitUntil(() => { const s = env.mcpRecords().filter((m) => m.dir === 'start'); return s.length >= 2 ? s : undefined; }, 'two MCP servers', 30_000);
    for (const s of starts) {
      assert.equal(s.chain![1].pid, daemon, 'each MCP server is a child of the daemon');
      assert.equal(s.env!.CC_DM_SESSION_NAME, 'alice', "each gets the daemon's (alice's) launch environment, bob's too");
    }
    assert.ok(!starts.some((s) => s.chain!.some((c) => c.pid === b.pid)), "bob's TUI is nowhere in its server's parent chain");
    const bobStart = await env.waitForHook((h) => h.label === 'SessionStart' && h.input.session_id === tb, "bob's SessionStart", 30_000);
    report(`daemon: bob's SessionStart hook: parent ${bobStart.chain[1]?.comm}:${bobStart.chain[1]?.pid} (daemon ${daemon}), CC_DM_SESSION_NAME=${bobStart.env.CC_DM_SESSION_NAME}`);
    assert.equal(bobStart.chain[1]?.pid, daemon, "bob's hooks run as children of the daemon");
    assert.equal(bobStart.env.CC_DM_SESSION_NAME, 'alice', "with the daemon's environment");

    // Wake idle bob through the daemon's queue.
    await env.waitForHook((h) => h.label === 'Stop' && h.input.session_id === tb, "bob's turn to end", 30_000);
    // A queued message is a turn like a typed one: UserPromptSubmit fires with it as the prompt,
    // so a fixed-text doorbell can be queued and the hook can carry the mail itself.
    env.setHookReply('UserPromptSubmit', { hookSpecificOutput: { hookEventName: 'UserPromptSubmit', additionalContext: 'MAIL-VIA-HOOK' } });
    const lat: number[] = [];
    for (let k = 1; k <= 3; k++) {
      const from = env.standin.nextSeq();
      const t0 = performance.timeOrigin + performance.now();
      const q = await env.queue(tb, `WAKE-${k} <b>&</b>`);
      assert.equal(q.code, 0, q.stderr);
      const r = await env.standin.waitForRequest((x) => newestText(x).includes(`WAKE-${k}`), `WAKE-${k} in bob's next request`, 30_000, from);
      assert.equal(threadIdOf(r), tb);
      assert.ok(userMessages(r).includes(`WAKE-${k} <b>&</b>`), 'a queued message is a plain user message, verbatim');
      assert.ok(developerMessages(r).includes('MAIL-VIA-HOOK'), "the UserPromptSubmit hook's additionalContext is in the woken request");
      assert.ok(env.hookRecords('UserPromptSubmit').some((h) => h.input.prompt === `WAKE-${k} <b>&</b>` && h.input.session_id === tb), 'UserPromptSubmit saw the queued text');
      assert.equal(JSON.parse(String(r.headers['x-codex-turn-metadata'])).turn_trigger, 'queue');
      lat.push(Math.round(r.at - t0));
      await env.waitForHook((h) => h.label === 'Stop' && h.t > t0, `Stop after WAKE-${k}`, 30_000);
    }
    report(`daemon: codex queue -> model request: ${lat.join(', ')} ms`);
    // The same without a process: thread/queue/add over the control socket.
    {
      const from = env.standin.nextSeq();
      const t0 = performance.timeOrigin + performance.now();
      const [added] = await env.daemonRpc([['thread/queue/add', { threadId: tb, input: [{ type: 'text', text: 'WAKE-DIRECT', text_elements: [] }], clientUserMessageId: randomUUID() }]]);
      assert.ok(added.queuedSubmission?.id, 'thread/queue/add answers with the queued submission');
      const r = await env.standin.waitForRequest((x) => newestText(x).includes('WAKE-DIRECT'), 'WAKE-DIRECT', 30_000, from);
      report(`daemon: thread/queue/add over the socket (connect + initialize included) -> model request: ${Math.round(r.at - t0)} ms`);
      await env.waitForHook((h) => h.label === 'Stop' && h.t > t0, 'Stop after WAKE-DIRECT', 30_000);
    }

    // The daemon's control socket answers the app-server protocol (WebSocket over the Unix socket).
    const [loaded, read] = await env.daemonRpc([['thread/loaded/list', {}], ['thread/read', { threadId: tb }]]);
    assert.ok(loaded.data.includes(ta) && loaded.data.includes(tb), 'thread/loaded/list lists both threads');
    report(`daemon: thread/read of bob: status ${JSON.stringify(read.thread.status)}, name ${JSON.stringify(read.thread.name)}, originator ${read.thread.originator}`);

    // bob's TUI goes away: its thread unloads after thread_unload_delay_secs; SessionEnd then.
    const bobServer = starts.find((s) => env.mcpRecords().some((m) => m.pid === s.pid && m.msg?.params?._meta?.threadId === tb))?.pid ?? starts[1].pid;
    const tk = Date.now();
    env.tmux(['kill-session', '-t', b.target.split(':')[0]], false);
    const end = await env.waitForHook((h) => h.label === 'SessionEnd' && h.input.session_id === tb, "bob's SessionEnd", 60_000);
    await waitUntil(() => !pidAlive(bobServer) || undefined, "bob's MCP server to exit", 30_000);
    // Queueing to an unloaded thread "succeeds" and waits for a resume: nothing runs now.
    const q = await env.queue(tb, 'AFTER-UNLOAD');
    assert.equal(q.code, 0, 'codex queue to an unloaded thread exits 0');
    const [pending] = await env.daemonRpc([['thread/queue/list', { threadId: tb }]]);
    assert.ok(pending.data.some((e: any) => e.input?.[0]?.text === 'AFTER-UNLOAD'), 'and the message waits in the thread queue');
    const unknown = await env.queue(randomUUID(), 'NOWHERE');
    assert.notEqual(unknown.code, 0, 'an unknown thread is an error');
    report(`daemon: TUI killed -> SessionEnd after ${end.t - tk} ms (thread_unload_delay_secs = 2); server gone`);
    assert.ok(end.t - tk >= 1_500, 'SessionEnd waits for the unload delay');
    assert.equal(env.daemonPid(), daemon, 'the daemon stays');
    assert.ok(pidAlive(starts.find((s) => s.pid !== bobServer)!.pid), "alice's server stays");
  });
});

test('in-process TUI (--no-daemon, or any -c override): queue takes seconds; SessionEnd on /quit', FACTS, async () => {
  ensureTmux();
  await withCodex('facts-inproc', { probe: true, ccdmServer: false, hooks: ['Stop', 'SessionEnd'] }, async (env) => {
    const s = await env.startInteractive({ name: 'solo', overrides: ['model_reasoning_effort="low"'], daemon: true });
    await s.ready(90_000);
    await s.submit('first');
    const r1 = await env.standin.waitForRequest((r) => newestText(r).includes('first'), 'first prompt', 60_000);
    const thread = threadIdOf(r1)!;
    const start = await waitUntil(() => env.mcpRecords().find((m) => m.dir === 'start'), 'probe server', 30_000);
    assert.equal(start.chain![1].comm, 'codex', 'with a -c override the TUI runs in-process: the server is its child');
    assert.equal(env.daemonPid(), undefined, 'no daemon');
    await env.waitForHook((h) => h.label === 'Stop', 'turn end', 30_000);
    const from = env.standin.nextSeq();
    const t0 = performance.timeOrigin + performance.now();
    const q = await env.queue(thread, 'WAKE-INPROC');
    assert.equal(q.code, 0, q.stderr);
    const r = await env.standin.waitForRequest((x) => newestText(x).includes('WAKE-INPROC'), 'the queued message', 30_000, from);
    report(`in-process: codex queue -> model request: ${Math.round(r.at - t0)} ms`);
    const tq = Date.now();
    await s.submit('/quit');
    const end = await env.waitForHook((h) => h.label === 'SessionEnd', 'SessionEnd', 15_000);
    assert.equal(end.input.session_id, thread);
    await waitUntil(() => !pidAlive(start.pid) || undefined, 'the MCP server to exit', 10_000);
    report(`in-process: /quit -> SessionEnd after ${end.t - tq} ms`);
  });
});

test('MCP entry: without required = true a slow server misses the first turn; approval without default_tools_approval_mode', FACTS, async () => {
  const entry = (name: string, delayMs: number, extra: string) =>
    `[mcp_servers.${name}]\ncommand = ${JSON.stringify(process.execPath)}\nargs = [${JSON.stringify(PROBE_MCP)}]\n` +
    `env = { PROBE_MCP_LOG = "LOGDIR/${name}.jsonl", PROBE_MCP_DELAY_MS = "${delayMs}" }\nstartup_timeout_sec = 30\n${extra}\n`;
  const script = (r: ResponsesRequest) => {
    const n = functionCalls(r).length;
    if (n === 0) return { call: { namespace: 'mcp__plain', name: 'probe_echo', arguments: { text: 'a' } } };
    return { text: 'Done.' };
  };
  await withCodex('facts-entry', {
    ccdmServer: false, hooks: false, script,
    extraToml: entry('slow', 2500, '') + entry('plain', 0, 'required = true\n') + entry('approved', 0, 'required = true\ndefault_tools_approval_mode = "approve"\n'),
  }, async (env) => {
    fs.writeFileSync(env.configFile, fs.readFileSync(env.configFile, 'utf8').replaceAll('LOGDIR', env.probeDir));
    const r = await env.exec('go');
    assert.equal(r.code, 0, r.stderr);
    const first = env.standin.modelRequests()[0];
    const ns = [...(first.body.tools as any[])].filter((t) => t.type === 'namespace').map((t) => t.name);
    report(`namespaces in the first request (slow: not required, answers initialize after 2.5 s): ${ns.join(', ')}`);
    assert.ok(ns.includes('mcp__plain'), 'a fast server is there');
    assert.ok(!ns.includes('mcp__slow'), 'a server that is not required and slower than the grace period is left out of the turn');
    // No default_tools_approval_mode, approval_policy "never": what happens depends on the sandbox.
    const calls = () => (fs.readFileSync(path.join(env.probeDir, 'plain.jsonl'), 'utf8').match(/"method":"tools\/call"/g) ?? []).length;
    const results: Record<string, string> = {};
    for (const sandbox of ['danger-full-access', 'workspace-write', 'read-only']) {
      const before = calls();
      const from = env.standin.nextSeq();
      const x = await env.exec('go', { overrides: [`sandbox_mode="${sandbox}"`] });
      assert.equal(x.code, 0, x.stderr);
      const last = env.standin.modelRequests().filter((q) => q.seq >= from).pop()!;
      const outputs = [...toolResults(last).values()];
      results[sandbox] = calls() > before ? 'reached the server' : `refused: ${String(outputs[outputs.length - 1]).replace(/\s+/g, ' ').slice(0, 300)}`;
    }
    report(`without default_tools_approval_mode (approval_policy never): ${JSON.stringify(results)}`);
    assert.equal(results['danger-full-access'], 'reached the server', 'with danger-full-access the call goes through');
    assert.match(results['workspace-write'], /requires approval, but approval policy is never/);
    // With default_tools_approval_mode = "approve" it goes through under workspace-write too.
    env.standin.setScript((q) => (functionCalls(q).length === 0 ? { call: { namespace: 'mcp__approved', name: 'probe_echo', arguments: { text: 'b' } } } : { text: 'Done.' }));
    const y = await env.exec('go', { overrides: ['sandbox_mode="workspace-write"'] });
    assert.equal(y.code, 0, y.stderr);
    assert.match(fs.readFileSync(path.join(env.probeDir, 'approved.jsonl'), 'utf8'), /"method":"tools\/call"/, 'approved: the call reaches the server');
  });
});
