// End-to-end: one conversation across the three hosts (issue 15), each the real CLI offline
// against its own stand-in, on one cc-dm store: Claude Code (with the channel), a Codex TUI (its
// shared daemon) and a Gemini CLI TUI (a background cc-dm wait). The human asks Claude Code's model
// to put a question to the Codex thread; Codex's model, woken through its queue, passes it on to
// Gemini CLI; Gemini CLI's model, woken by its waiter, answers Claude Code, whose next request
// carries the answer as a <channel> event. who lists the three with their hosts and paths.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { codexThreadName } from '../../src/channel/main.js';
import { cliShims, setupHost, waitForWho } from './agent-peers.js';
import { E2eEnv, pluginTool } from './claude.js';
import { nextToolStep } from './flows.js';
import { CodexEnv } from './codex.js';
import { GeminiEnv } from './gemini.js';
import { ensureTmux, loadavg } from './harness-common.js';
import { channelEvents, isMainLoopRequest, messagesText } from './standin.js';
import { newestText as codexNewest, threadIdOf } from './standin-responses.js';
import { isStreamRequest, newestContents, newestText as geminiNewest, requestText as geminiText } from './standin-gemini.js';
import { requirePrerequisites } from './common.js';

requirePrerequisites();

test('Claude Code, Codex and Gemini CLI in one conversation: a question goes Claude -> Codex -> Gemini, the answer Gemini -> Claude', async (t) => {
  ensureTmux();
  const tag = randomUUID().slice(0, 6);
  const DM = pluginTool('dm');
  let codexName = '';
  let waitCmd: string | undefined;
  const claude = await E2eEnv.create('three-claude');
  let codex: CodexEnv | undefined;
  let gemini: GeminiEnv | undefined;
  let failed = false;
  try {
    codex = await CodexEnv.create('three-codex', {
      ccdmHome: claude.ccdmHome, ccdmServer: false, hooks: false, trustHooks: false,
      script: (r) => {
        const newest = codexNewest(r);
        // Woken with a question from lead: pass it on to gem.
        if (newest.includes(`QUESTION-${tag}`) && !newest.includes('Output:'))
          return { call: { namespace: 'mcp__cc_dm', name: 'dm', arguments: { to: 'gem', content: `lead asks, via ${codexName}: QUESTION-${tag}; answer lead directly.` } } };
        return { text: 'OK.' };
      },
    });
    gemini = await GeminiEnv.create('three-gemini', {
      ccdmHome: claude.ccdmHome, ccdmServer: false, hooks: false,
      script: (r) => {
        waitCmd ??= /again each time it has finished: ([^\n]+)/.exec(geminiText(r))?.[1];
        if (newestContents(r).some((c) => (c.parts ?? []).some((p) => p.functionResponse))) return { text: 'OK.' };
        const newest = geminiNewest(r);
        const arm = { name: 'run_shell_command', args: { command: waitCmd ?? 'false', description: 'cc-dm wait', is_background: true } };
        if (newest.includes(`QUESTION-${tag}`)) return { calls: [{ name: 'mcp_cc-dm_dm', args: { to: 'lead', content: `ANSWER-${tag}: 42` } }, arm] };
        if (newest.includes('START-WAITER') || newest.includes('cc-dm: new mail for')) return { call: arm };
        return { text: 'OK.' };
      },
    });
    const shims = cliShims(codex, { codex: codex.cli });
    const cvars = codex.baseEnv({ PATH: `${shims}:${process.env.PATH}` });
    const gvars = gemini.baseEnv({ PATH: `${shims}:${process.env.PATH}` });
    await setupHost(codex, 'codex', cvars);
    await setupHost(gemini, 'gemini', gvars);

    const lead = await claude.startInteractive({
      name: 'lead',
      allowedTools: [DM],
      script: (r) => {
        if (!isMainLoopRequest(r)) return { text: 'OK' };
        const text = messagesText(r);
        if (channelEvents(text).some((e) => e.attrs.from_session === 'gem')) return { text: 'Thanks, gem.' };
        if (text.includes(`KICKOFF-${tag}`)) return nextToolStep(r, [{ tool: DM, input: { to: codexName, content: `QUESTION-${tag}: what is the number? Ask gem.` } }]) ?? { text: 'Asked.' };
        return { text: 'Ready.' };
      },
    });
    const cx = await codex.startInteractive({ name: 'cx', daemon: true });
    const gm = await gemini.startInteractive({ name: 'gm', env: { CC_DM_SESSION_NAME: 'gem' } });
    await cx.ready(180_000);
    await gm.ready(120_000);
    await cx.submit(`hello ${tag}`);
    const first = await codex.standin.waitForRequest((r) => codexNewest(r).includes(`hello ${tag}`), "codex's first prompt", 60_000);
    codexName = codexThreadName(threadIdOf(first)!);
    await gm.submit(`START-WAITER ${tag}`);
    await waitForWho(codex, codexName, { presence: 'idle', wake: 'queue' }, cvars, 60_000);
    await waitForWho(gemini, 'gem', { presence: 'idle', wake: 'waiter' }, gvars, 60_000);
    const roster = JSON.parse((await claude.ccdm(['who', '--json'])).stdout) as any[];
    const row = (n: string) => roster.find((s) => s.name === n);
    assert.deepEqual([row('lead')?.agent, row('lead')?.path], ['claude', 'channel']);
    assert.deepEqual([row(codexName)?.agent, row(codexName)?.path, row(codexName)?.wake], ['codex', 'hook', 'queue']);
    assert.deepEqual([row('gem')?.agent, row('gem')?.path, row('gem')?.wake], ['gemini', 'hook', 'waiter']);

    // The human asks Claude Code's model; the question travels on; the answer comes back.
    const t0 = Date.now();
    lead.type(`KICKOFF-${tag} please`);
    const atCodex = await codex.standin.waitForRequest((r) => codexNewest(r).includes(`QUESTION-${tag}`), 'the question at Codex', 60_000);
    const atGemini = await gemini.standin.waitForRequest((r) => isStreamRequest(r) && geminiNewest(r).includes(`QUESTION-${tag}`), 'the question at Gemini CLI', 60_000);
    const back = await lead.standin.waitForRequest(
      (r) => isMainLoopRequest(r) && channelEvents(messagesText(r)).some((e) => e.attrs.from_session === 'gem' && e.content.includes(`ANSWER-${tag}: 42`)),
      'the answer at Claude Code', 60_000,
    );
    const ev = channelEvents(messagesText(back)).find((e) => e.attrs.from_session === 'gem')!;
    assert.equal(ev.attrs.to_session, 'lead');
    t.diagnostic(
      `three hosts: kickoff -> Codex request ${Math.round(atCodex.at - t0)} ms, -> Gemini request ${Math.round(atGemini.at - t0)} ms, -> Claude request ${Math.round(back.at - t0)} ms (load ${loadavg()})`,
    );
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    await gemini?.cleanup(failed);
    await codex?.cleanup(failed);
    await claude.cleanup(failed);
  }
});
