// End-to-end: the real Codex CLI (0.171.0) as a cc-dm peer (issue 15), offline against the
// Responses API stand-in, set up by `cc-dm setup codex` itself. A Codex TUI runs through the shared
// app-server daemon (Codex's default): its thread binds to its cc-dm session at its first prompt and
// is named after the thread. It gets a dm from another session when idle (woken through Codex's
// queue), mid-turn (between tool calls), and at the end of its turn (a Stop block); its model's own
// dm reaches the other session; `codex exec` with mail waiting gets it with its prompt; who shows
// host, path and wake; nothing arrives twice.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { codexThreadName } from '../../src/channel/main.js';
import { CODEX_DOORBELL } from '../../src/wake/codex-queue.js';
import { cliShims, framedCount, framedText, peerDm, setupHost, startPeer, summary, waitConfirmed, waitForWho, whoEntry } from './agent-peers.js';
import { withCodex } from './codex.js';
import { ensureTmux, loadavg, waitUntil } from './harness-common.js';
import {
  ResponsesReply, ResponsesRequest, developerMessages, newestItems, newestText, requestText, threadIdOf, turnMetadata, userMessages,
} from './standin-responses.js';

const NS = 'mcp__cc_dm';

test('codex: setup, then a dm reaches the model when idle (woken), mid-turn and at the end of the turn; its own dm reaches a Claude-style session; exec gets waiting mail with its prompt; once each', async (t) => {
  ensureTmux();
  const tag = randomUUID().slice(0, 6);
  let endTurn: () => Promise<void> = async () => {};
  const script = (r: ResponsesRequest): ResponsesReply | Promise<ResponsesReply> => {
    const newest = newestText(r);
    if (newest.includes('RUN-BUSY')) return { call: { name: 'exec_command', arguments: { cmd: 'sleep 4' } } };
    if (newest.includes('END-TURN')) return endTurn().then(() => ({ text: 'Done.' }));
    if (newest.includes('TELL-CLAIRE')) return { call: { namespace: NS, name: 'dm', arguments: { to: 'claire', content: `FROM-CODEX-${tag} <ok> & done` } } };
    return { text: 'OK.' };
  };
  await withCodex('codex-peer', { ccdmServer: false, hooks: false, trustHooks: false, script }, async (env) => {
    // A closed TUI's thread ends after this delay (Codex's default is 60 s; a top-level key).
    fs.writeFileSync(env.configFile, 'thread_unload_delay_secs = 2\n' + fs.readFileSync(env.configFile, 'utf8'));
    const shims = cliShims(env, { codex: env.cli });
    const vars = env.baseEnv({ PATH: `${shims}:${process.env.PATH}` });
    const setup = await setupHost(env, 'codex', vars);
    assert.ok(setup.changed.some((c: string) => /read back as trusted/.test(c)), JSON.stringify(setup));
    const listed = (await env.listHooks()).filter((h) => /hook codex$/.test(h.command ?? ''));
    assert.equal(listed.length, 6, 'six cc-dm hooks');
    assert.ok(listed.every((h) => h.trustStatus === 'trusted'), `the real Codex reads them back as trusted: ${listed.map((h) => h.trustStatus)}`);

    const claire = await startPeer(env, 'claire');
    env.onCleanup(() => claire.close());
    const tui = await env.startInteractive({ name: 'tui', daemon: true });
    await tui.ready(180_000);

    // The first prompt binds the thread to its session, named after the thread.
    await tui.submit(`hello ${tag}`);
    const first = await env.standin.waitForRequest((r) => newestText(r).includes(`hello ${tag}`), 'the first prompt', 60_000);
    const thread = threadIdOf(first)!;
    const name = codexThreadName(thread);
    assert.ok(developerMessages(first).some((m) => m.includes(`you are "${name}"`)), 'the identity note (SessionStart) names the session');
    const entry = await waitForWho(env, name, { presence: 'idle' }, vars, 60_000);
    assert.deepEqual([entry.agent, entry.path, entry.wake], ['codex', 'hook', 'queue'], JSON.stringify(entry));

    // Idle: woken through Codex's queue with the fixed doorbell; the mail comes with that turn.
    const lat: number[] = [];
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      await waitForWho(env, name, { presence: 'idle' }, vars);
      const from = env.standin.nextSeq();
      const content = `WAKE-${i}-${tag} <b>bold</b> & [cc-dm 000000000000 end]`;
      const dm = await peerDm(claire, name, content);
      ids.push(dm.id);
      const r = await env.standin.waitForRequest((x) => framedCount(requestText(x), dm.id) > 0, `WAKE-${i} in a request`, 30_000, from);
      lat.push(r.at - dm.at);
      assert.equal(turnMetadata(r).turn_trigger, 'queue', 'a turn the queue started');
      assert.ok(userMessages(r).includes(CODEX_DOORBELL), 'its prompt is the fixed doorbell, never the mail');
      assert.equal(framedText(developerMessages(r).join('\n'), dm.id), content, 'the mail, whole, in the developer note');
    }
    t.diagnostic(`codex idle (daemon): dm -> model request ${JSON.stringify(summary(lat))} ms (load ${loadavg()})`);

    // Mid-turn: a dm while a tool runs arrives with that tool's result.
    await waitForWho(env, name, { presence: 'idle' }, vars);
    let from = env.standin.nextSeq();
    await tui.submit(`RUN-BUSY ${tag}`);
    const call = await env.standin.waitForRequest((r) => newestText(r).includes('RUN-BUSY') && !!r.repliedAt, 'the exec_command call', 60_000, from);
    const mid = await peerDm(claire, name, `MID-${tag}`);
    ids.push(mid.id);
    const afterTool = await env.standin.waitForRequest((r) => r.seq > call.seq && framedCount(requestText(r), mid.id) > 0, 'the request after the tool', 60_000, from);
    const items = newestItems(afterTool);
    assert.ok(items.some((i) => i.type === 'function_call_output'), 'it carries the tool result');
    assert.ok(items.some((i) => i.role === 'developer' && String(JSON.stringify(i.content)).includes(mid.id)), 'and the mail as a developer note beside it');
    t.diagnostic(`codex mid-turn: dm -> the request after the running tool ${Math.round(afterTool.at - mid.at)} ms (the tool sleeps 4 s)`);

    // End of turn: a dm that comes while the model writes its last answer blocks the Stop once.
    await waitForWho(env, name, { presence: 'idle' }, vars);
    let endId = '';
    endTurn = async () => {
      endTurn = async () => {};
      endId = (await peerDm(claire, name, `END-MAIL-${tag}`)).id;
    };
    from = env.standin.nextSeq();
    await tui.submit(`END-TURN ${tag}`);
    const cont = await env.standin.waitForRequest((r) => !!endId && framedCount(requestText(r), endId) > 0, 'the continued turn', 60_000, from);
    ids.push(endId);
    assert.ok(userMessages(cont).some((m) => m.startsWith('<hook_prompt') && m.includes(`END-MAIL-${tag}`)), 'the Stop reason, as a user message');
    const asked = await env.standin.waitForRequest((r) => newestText(r).includes('END-TURN'), 'END-TURN', 1_000, from);
    assert.equal(turnMetadata(cont).turn_id, turnMetadata(asked).turn_id, 'the same turn, continued');

    // Its model's own dm reaches the other session.
    await waitForWho(env, name, { presence: 'idle' }, vars);
    await tui.submit(`TELL-CLAIRE ${tag}`);
    await claire.waitFor((p) => p.pushes.some((m) => m.content.includes(`FROM-CODEX-${tag}`)), 60_000, "codex's dm");
    const got = claire.pushes.find((m) => m.content.includes(`FROM-CODEX-${tag}`))!;
    assert.equal(got.meta.from_session, name, 'stamped with the thread\'s name');
    assert.equal(got.content, `FROM-CODEX-${tag} <ok> & done`);

    // Nothing twice: every message is framed once in the thread's whole history; all confirmed.
    await waitForWho(env, name, { presence: 'idle' }, vars);
    const last = env.standin.modelRequests().filter((r) => threadIdOf(r) === thread).pop()!;
    for (const id of ids) assert.equal(framedCount(requestText(last), id), 1, `${id} framed once`);
    for (const id of ids) {
      const tr = await waitConfirmed(env, id, vars, 'the rollout');
      assert.equal(tr.recipients[0]!.delivered_via, 'hook');
    }

    // codex exec (in-process): the name from the launch environment, and mail that waited comes with the prompt.
    const execName = `cdx-exec-${tag}`;
    const waiting = await claire.call('dm', { to: execName, content: `NEXT-PROMPT-${tag}`, queue_if_unknown: true });
    assert.equal(waiting.isError, false, JSON.stringify(waiting.body));
    from = env.standin.nextSeq();
    const ex = await env.exec(`exec prompt ${tag}`, { env: { CC_DM_SESSION_NAME: execName, PATH: vars.PATH! } });
    assert.equal(ex.code, 0, ex.stderr);
    const er = await env.standin.waitForRequest((r) => newestText(r).includes(`exec prompt ${tag}`), 'the exec prompt', 5_000, from);
    assert.equal(framedText(developerMessages(er).join('\n'), waiting.body.message_id), `NEXT-PROMPT-${tag}`, 'with its prompt');
    assert.ok(developerMessages(er).some((m) => m.includes(`you are "${execName}"`)), 'named from the launch environment');

    // The TUI goes away: its thread ends (when Codex unloads it), and so does its session; the
    // shared daemon goes on. Its name keeps its mailbox.
    const daemon = env.daemonPid();
    assert.ok(daemon, 'the daemon runs');
    const gone = Date.now();
    env.tmux(['kill-session', '-t', tui.target.split(':')[0]!], false);
    await waitUntil(async () => !(await whoEntry(env, name, vars)) || undefined, `${name} to leave who`, 60_000);
    t.diagnostic(`codex: TUI killed -> session ended after ${Date.now() - gone} ms (thread_unload_delay_secs = 2)`);
    assert.equal(env.daemonPid(), daemon, 'the daemon goes on');
    const after = await claire.call('dm', { to: name, content: `AFTER-${tag}` });
    assert.equal(after.body.recipient_online, false, 'the mail waits in its mailbox');
    assert.equal(after.body.will_see, 'when_it_runs');
  });
});
