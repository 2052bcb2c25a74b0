// End-to-end: a dm from one real Claude Code session's model lands in another's model context.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { PLUGIN_SERVER, pluginTool, withEnv, waitUntil } from './claude.js';
import { callToolsScript, channelsIn, hasChannel, reactiveScript, toolResult } from './flows.js';
import { isMainLoopRequest } from './standin.js';
import { deliveryStates, requirePrerequisites } from './common.js';

requirePrerequisites();

const DM = pluginTool('dm');

test('a dm from a headless session reaches an idle interactive session as a <channel> event', async () => {
  await withEnv('dm', async (env) => {
    const bob = await env.startInteractive({ name: 'bob', role: 'builder' });
    const content = `Please build the parser (token ${randomUUID()}).\nSecond line with "quotes" & <angles>.`;
    const alice = await env.runHeadless({
      name: 'alice',
      role: 'planner',
      prompt: 'Hand the parser task to bob.',
      allowedTools: [DM],
      script: callToolsScript([{ tool: DM, input: { to: 'bob', content, message_type: 'task', priority: 'urgent' } }]),
    });
    assert.equal(alice.code, 0, `the headless sender failed: ${alice.stderr || alice.stdout}`);
    const result = toolResult(alice.standin, DM);
    assert.equal(result?.success, true, `dm tool result: ${JSON.stringify(result)}`);
    assert.ok(result.message_id, 'the dm result carries a message_id');

    const req = await bob.standin.waitForRequest(
      hasChannel((e) => e.attrs.message_id === result.message_id),
      `bob's model request carrying message ${result.message_id}`,
      30_000,
    );
    const ev = channelsIn(req).find((e) => e.attrs.message_id === result.message_id)!;
    assert.equal(ev.content, content, 'exact content');
    assert.equal(ev.attrs.from_session, 'alice');
    assert.equal(ev.attrs.to_session, 'bob');
    assert.equal(ev.attrs.source, PLUGIN_SERVER);
    assert.equal(ev.attrs.sender_kind, 'session');
    assert.equal(ev.attrs.message_type, 'task');
    assert.equal(ev.attrs.priority, 'urgent');
    assert.match(ev.attrs.sent_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);

    // The store agrees that it was delivered to bob.
    await waitUntil(
      async () => (await deliveryStates(env, result.message_id)).bob === 'delivered' || undefined,
      `message ${result.message_id} to be recorded as delivered to bob`,
      10_000,
      () => '',
    );
  });
});

test('a reply back between two interactive sessions completes a round trip', async () => {
  await withEnv('roundtrip', async (env) => {
    const question = `What is the status of the parser? (${randomUUID()})`;
    const answer = `Parser done, 42 tests green. (${randomUUID()})`;
    // carol answers any message from dave with a dm in the same thread.
    const carol = await env.startInteractive({
      name: 'carol',
      role: 'builder',
      allowedTools: [DM],
      script: reactiveScript((e) =>
        e.attrs.from_session === 'dave'
          ? [{ tool: DM, input: { to: 'dave', content: answer, thread_id: e.attrs.thread_id ?? 't1' } }]
          : undefined,
      ),
    });
    // dave asks when the human types "ask"; otherwise just acknowledges.
    const ask = callToolsScript([{ tool: DM, input: { to: 'carol', content: question, message_type: 'question', thread_id: 't1' } }]);
    const dave = await env.startInteractive({
      name: 'dave',
      role: 'planner',
      allowedTools: [DM],
      script: (r) => {
        if (!isMainLoopRequest(r)) return { text: 'OK' };
        if (channelsIn(r).length > 0) return { text: 'Thanks.' };
        return ask(r, undefined as never);
      },
    });
    dave.type('ask carol for the parser status');
    const atCarol = await carol.standin.waitForRequest(
      hasChannel((e) => e.content === question),
      "carol's model request carrying dave's question",
    );
    const q = channelsIn(atCarol).find((e) => e.content === question)!;
    assert.equal(q.attrs.from_session, 'dave');
    assert.equal(q.attrs.to_session, 'carol');
    assert.equal(q.attrs.thread_id, 't1');

    const atDave = await dave.standin.waitForRequest(
      hasChannel((e) => e.content === answer),
      "dave's model request carrying carol's answer",
    );
    const a = channelsIn(atDave).find((e) => e.content === answer)!;
    assert.equal(a.attrs.from_session, 'carol');
    assert.equal(a.attrs.to_session, 'dave');
    assert.equal(a.attrs.thread_id, 't1');
    assert.equal(a.attrs.source, PLUGIN_SERVER);
  });
});
