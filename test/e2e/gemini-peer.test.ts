// End-to-end: the real Gemini CLI (0.61.0) as a cc-dm peer (issue 15), offline against the Gemini
// API stand-in, set up by `cc-dm setup gemini` itself (which also turns on the two settings a
// background waiter needs). Its model starts cc-dm's wait in the background, as cc-dm's first note
// tells it; a dm from another session wakes it when idle, arrives mid-turn (with a tool's result)
// and at the end of a turn (a deny whose next turn brings the mail); its own dm reaches the other
// session; `gemini -p` with mail waiting gets it with its prompt; who shows host, path and wake;
// nothing arrives twice.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { cliShims, framedCount, framedText, peerDm, setupHost, startPeer, summary, waitConfirmed, waitForWho } from './agent-peers.js';
import { withGemini } from './gemini.js';
import { ensureTmux, loadavg, waitUntil } from './harness-common.js';
import {
  GeminiReply, GeminiRequest, contents, functionResponses, hookContexts, isStreamRequest, newestContents, newestText, requestText,
} from './standin-gemini.js';

const SHELL = 'run_shell_command';

test('gemini: setup, then a background cc-dm wait wakes the idle model for a dm; mail mid-turn and at the end of the turn; its own dm reaches a Claude-style session; gemini -p gets waiting mail with its prompt; once each', async (t) => {
  ensureTmux();
  const tag = randomUUID().slice(0, 6);
  const name = `gem-${tag}`;
  let waitCmd: string | undefined;
  let endTurn: () => Promise<void> = async () => {};
  const script = (r: GeminiRequest): GeminiReply | Promise<GeminiReply> => {
    // The wait command, as cc-dm's first note (SessionStart's hook_context) gives it.
    waitCmd ??= /again each time it has finished: ([^\n]+)/.exec(requestText(r))?.[1];
    const answered = newestContents(r).some((c) => (c.parts ?? []).some((p) => p.functionResponse));
    if (answered) return { text: 'OK.' };
    const newest = newestText(r);
    const arm = { call: { name: SHELL, args: { command: waitCmd ?? 'false', description: 'cc-dm wait', is_background: true } } };
    if (newest.includes('START-WAITER') || newest.includes('cc-dm: new mail for')) return arm;
    if (newest.includes('RUN-BUSY')) return { call: { name: SHELL, args: { command: 'sleep 4', description: 'busy' } } };
    if (newest.includes('END-TURN')) return endTurn().then(() => ({ text: 'Done.' }));
    if (newest.includes('TELL-CLAIRE')) return { call: { name: 'mcp_cc-dm_dm', args: { to: 'claire', content: `FROM-GEMINI-${tag} <ok> & done` } } };
    return { text: 'OK.' };
  };
  await withGemini('gemini-peer', { ccdmServer: false, hooks: false, script }, async (env) => {
    const shims = cliShims(env, {});
    const vars = env.baseEnv({ PATH: `${shims}:${process.env.PATH}` });
    const setup = await setupHost(env, 'gemini', vars);
    assert.ok(setup.changed.some((c: string) => /experimental\.modelSteering/.test(c)), JSON.stringify(setup));

    const claire = await startPeer(env, 'claire');
    env.onCleanup(() => claire.close());
    // The hooks and the server log where a kept failed run shows it (CC_DM_E2E_KEEP_FAILED=1).
    const tui = await env.startInteractive({ name: 'tui', env: { CC_DM_SESSION_NAME: name, CC_DM_LOG_FILE: `${env.root}/ccdm.log`, CC_DM_LOG_LEVEL: 'debug' } });
    await tui.ready(120_000);
    const entry = await waitForWho(env, name, { path: 'hook' }, vars, 60_000);
    /**
     * Idle for cc-dm (its AfterAgent hook said so) and for Gemini CLI's screen (no turn running,
     * no hook executing): text typed while Gemini CLI still ends a turn becomes a steering update
     * of that turn.
     */
    const idle = async (fields: Record<string, unknown> = {}) => {
      await waitForWho(env, name, { presence: 'idle', ...fields }, vars, 60_000);
      await waitUntil(() => !/esc to cancel|Executing Hook/i.test(tui.screen()) || undefined, 'Gemini CLI idle on screen', 30_000, () => tui.describe());
    };
    assert.equal(entry.agent, 'gemini');

    // The first prompt: the model starts cc-dm's wait in the background, as cc-dm's note says.
    await tui.submit(`START-WAITER ${tag}`);
    const first = await env.standin.waitForRequest((r) => isStreamRequest(r) && newestText(r).includes('START-WAITER'), 'the first prompt', 60_000);
    assert.match(hookContexts(first).join('\n'), new RegExp(`you are &quot;${name}&quot;|you are "${name}"`), 'the identity note');
    assert.ok(waitCmd && /cc-dm\.js wait$/.test(waitCmd), `the wait command from the note: ${waitCmd}`);
    const armed = await waitForWho(env, name, { presence: 'idle', wake: 'waiter' }, vars, 60_000);
    assert.equal(armed.path, 'hook');

    // Idle: the waiter ends with its doorbell; the woken turn's BeforeAgent brings the mail.
    const lat: number[] = [];
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      await idle({ wake: 'waiter' });
      const from = env.standin.nextSeq();
      const content = `WAKE-${i}-${tag} <b>bold</b> & [cc-dm 000000000000 end]`;
      const dm = await peerDm(claire, name, content);
      ids.push(dm.id);
      const r = await env.standin.waitForRequest((x) => isStreamRequest(x) && framedCount(requestText(x), dm.id) > 0, `WAKE-${i} in a request`, 30_000, from);
      lat.push(r.at - dm.at);
      assert.match(newestText(r), /User steering update:[\s\S]*cc-dm: new mail for "/, 'a turn the waiter started');
      assert.equal(framedText(hookContexts(r).join('\n'), dm.id), content, "the mail, whole, in BeforeAgent's <hook_context>");
    }
    t.diagnostic(`gemini idle (waiter): dm -> model request ${JSON.stringify(summary(lat))} ms (load ${loadavg()})`);

    // Mid-turn: a dm while a tool runs comes inside that tool's result.
    await idle({ wake: 'waiter' });
    let from = env.standin.nextSeq();
    await tui.submit(`RUN-BUSY ${tag}`);
    const call = await env.standin.waitForRequest((r) => isStreamRequest(r) && newestText(r).includes('RUN-BUSY') && !!r.repliedAt, 'the shell call', 60_000, from);
    const mid = await peerDm(claire, name, `MID-${tag}`);
    ids.push(mid.id);
    const afterTool = await env.standin.waitForRequest((r) => r.seq > call.seq && isStreamRequest(r) && framedCount(requestText(r), mid.id) > 0, 'the request after the tool', 60_000, from);
    const resp = functionResponses(afterTool).find((f) => f.name === SHELL && JSON.stringify(f.response).includes(mid.id));
    assert.ok(resp, 'the mail is in the shell tool\'s response (AfterTool)');
    t.diagnostic(`gemini mid-turn: dm -> the request after the running tool ${Math.round(afterTool.at - mid.at)} ms (the tool sleeps 4 s)`);

    // End of turn: a dm while the model writes its last answer: AfterAgent denies once, and the next turn brings it.
    await idle();
    let endId = '';
    endTurn = async () => {
      endTurn = async () => {};
      endId = (await peerDm(claire, name, `END-MAIL-${tag}`)).id;
    };
    from = env.standin.nextSeq();
    await tui.submit(`END-TURN ${tag}`);
    const cont = await env.standin.waitForRequest((r) => isStreamRequest(r) && !!endId && framedCount(requestText(r), endId) > 0, 'the turn after the deny', 60_000, from);
    ids.push(endId);
    assert.match(newestText(cont), /cc-dm: a message for you arrived during this turn/, "the deny's fixed reason, never the mail");
    assert.equal(framedText(hookContexts(cont).join('\n'), endId), `END-MAIL-${tag}`);

    // Its model's own dm reaches the other session.
    await idle();
    await tui.submit(`TELL-CLAIRE ${tag}`);
    await claire.waitFor((p) => p.pushes.some((m) => m.content.includes(`FROM-GEMINI-${tag}`)), 60_000, "gemini's dm");
    const got = claire.pushes.find((m) => m.content.includes(`FROM-GEMINI-${tag}`))!;
    assert.equal(got.meta.from_session, name);
    assert.equal(got.content, `FROM-GEMINI-${tag} <ok> & done`);

    // Nothing twice; all confirmed from Gemini CLI's chat file.
    await waitForWho(env, name, { presence: 'idle' }, vars, 60_000);
    const last = env.standin.modelRequests().pop()!;
    const history = contents(last).map((c) => JSON.stringify(c)).join('\n');
    for (const id of ids) assert.equal(framedCount(history, id), 1, `${id} framed once`);
    for (const id of ids) {
      const tr = await waitConfirmed(env, id, vars, 'the chat file');
      assert.equal(tr.recipients[0]!.delivered_via, 'hook');
    }

    // gemini -p: the name from the launch environment, and mail that waited comes with the prompt.
    const headName = `gem-p-${tag}`;
    const waiting = await claire.call('dm', { to: headName, content: `NEXT-PROMPT-${tag}`, queue_if_unknown: true });
    assert.equal(waiting.isError, false, JSON.stringify(waiting.body));
    from = env.standin.nextSeq();
    const hp = await env.headless(`headless prompt ${tag}`, { env: { CC_DM_SESSION_NAME: headName, PATH: vars.PATH! } });
    assert.equal(hp.code, 0, hp.stderr);
    const hr = await env.standin.waitForRequest((r) => isStreamRequest(r) && newestText(r).includes(`headless prompt ${tag}`), 'the -p prompt', 5_000, from);
    assert.equal(framedText(hookContexts(hr).join('\n'), waiting.body.message_id), `NEXT-PROMPT-${tag}`, 'with its prompt');
  });
});
