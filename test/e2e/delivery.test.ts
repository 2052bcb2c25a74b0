// End-to-end: broadcast, mail for a session that is not running, and a receiver whose Claude
// Code does not show channel pushes (it pulls with the inbox tool).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { PLUGIN_SERVER, pluginTool, withEnv, waitUntil } from './claude.js';
import { callToolsScript, channelsIn, hasChannel, toolResult } from './flows.js';
import { isMainLoopRequest, lastToolResultText, messagesText } from './standin.js';
import { deliveryStates, requirePrerequisites, trace } from './common.js';
import { writeUserSettings } from './hooks-lab/lab.js';

requirePrerequisites();

const DM = pluginTool('dm');
const BROADCAST = pluginTool('broadcast');
const INBOX = pluginTool('inbox');

test('a broadcast reaches two interactive sessions, each addressed by its own name', async () => {
  await withEnv('broadcast', async (env) => {
    const bob = await env.startInteractive({ name: 'bob', role: 'builder' });
    const carol = await env.startInteractive({ name: 'carol', role: 'tester' });
    const content = `Standup in five minutes (${randomUUID()}).`;
    const alice = await env.runHeadless({
      name: 'alice',
      role: 'planner',
      prompt: 'Tell everyone about the standup.',
      allowedTools: [BROADCAST],
      script: callToolsScript([{ tool: BROADCAST, input: { content, message_type: 'status' } }]),
    });
    assert.equal(alice.code, 0, `the headless sender failed: ${alice.stderr || alice.stdout}`);
    const result = toolResult(alice.standin, BROADCAST);
    assert.equal(result?.success, true, `broadcast tool result: ${JSON.stringify(result)}`);

    for (const s of [bob, carol]) {
      const req = await s.standin.waitForRequest(
        hasChannel((e) => e.content === content),
        `${s.name}'s model request carrying the broadcast`,
      );
      const ev = channelsIn(req).find((e) => e.content === content)!;
      assert.equal(ev.attrs.from_session, 'alice');
      assert.equal(ev.attrs.to_session, s.name);
      assert.equal(ev.attrs.message_type, 'status');
      assert.equal(ev.attrs.source, PLUGIN_SERVER);
    }
  });
});

test('a dm to a session that is not running waits in its mailbox and reaches its model when it starts again', async () => {
  await withEnv('offline', async (env) => {
    // erin has run once (so her name is a known mailbox), then ends.
    const first = await env.startInteractive({ name: 'erin', role: 'reviewer' });
    await first.stop();
    await waitUntil(
      async () => {
        const r = await env.ccdm(['who', '--json']);
        return r.code === 0 && !/"erin"/i.test(r.stdout) ? true : undefined;
      },
      'erin to leave the live sessions listed by cc-dm who',
      15_000,
    );

    const content = `Please review PR 7 when you are back (${randomUUID()}).`;
    const alice = await env.runHeadless({
      name: 'alice',
      prompt: 'Leave erin a review request.',
      allowedTools: [DM],
      script: callToolsScript([{ tool: DM, input: { to: 'erin', content, message_type: 'review' } }]),
    });
    assert.equal(alice.code, 0, `the headless sender failed: ${alice.stderr || alice.stdout}`);
    const result = toolResult(alice.standin, DM);
    assert.equal(result?.success, true, `dm tool result: ${JSON.stringify(result)}`);
    assert.equal(result.state, 'queued');
    assert.equal(result.recipient_online, false, `erin is not running: ${JSON.stringify(result)}`);
    assert.equal((await deliveryStates(env, result.message_id)).erin, 'queued');

    // erin starts again under her name: the waiting message lands in her model's context.
    const again = await env.startInteractive({ name: 'erin', role: 'reviewer' });
    const req = await again.standin
      .waitForRequest(
        hasChannel((e) => e.attrs.message_id === result.message_id),
        `restarted erin's model request carrying message ${result.message_id}`,
      )
      .catch(async (err: Error) => {
        // Say what the store and Claude Code saw, so the failure points at its cause.
        const t = await trace(env, result.message_id);
        const row = t?.recipients.find((r) => r.to === 'erin');
        const registered = /^(\S+) .*Channel notifications registered/m.exec(again.debugLog())?.[1];
        const shown = again.debugLog().includes('notifications/claude/channel (');
        throw new Error(
          `${err.message.split('\n')[0]}\ncc-dm recorded it as ${row?.state ?? 'unknown'}` +
            (row?.delivered_at ? ` via ${row.delivered_via} at ${row.delivered_at}` : '') +
            `; Claude Code registered its channel handler at ${registered ?? '(never)'}` +
            ` and ${shown ? 'logged' : 'never logged'} a channel notification` +
            (row?.delivered_at && registered && row.delivered_at < registered
              ? ' (the push was written before Claude Code was listening, so it was dropped)'
              : ''),
        );
      });
    const ev = channelsIn(req).find((e) => e.attrs.message_id === result.message_id)!;
    assert.equal(ev.content, content);
    assert.equal(ev.attrs.from_session, 'alice');
    assert.equal(ev.attrs.to_session, 'erin');
    await waitUntil(
      async () => (await deliveryStates(env, result.message_id)).erin === 'delivered' || undefined,
      `message ${result.message_id} to be recorded as delivered to erin`,
      10_000,
    );
  });
});

test('with hooks off by policy, a receiver without the channel flag is on the pull path: its mail waits, and it reads it with inbox', async () => {
  await withEnv('no-channel', async (env) => {
    // The plugin's hooks carry mail in without the channel flag (test/e2e/hook-path.test.ts);
    // an organisation may turn hooks off, and then the session pulls.
    writeUserSettings(env, { disableAllHooks: true });
    const frank = await env.startInteractive({
      name: 'frank',
      role: 'builder',
      channels: false,
      allowedTools: [INBOX],
      script: (r) => {
        if (!isMainLoopRequest(r)) return { text: 'OK' };
        if (!/check your inbox/.test(messagesText(r))) return { text: 'Ready.' };
        return callToolsScript([{ tool: INBOX, input: {} }], 'Read my mail.')(r, frank.standin);
      },
    });
    const content = `The build is red on main (${randomUUID()}).`;
    const alice = await env.runHeadless({
      name: 'alice',
      prompt: 'Tell frank the build is red.',
      allowedTools: [DM],
      script: callToolsScript([{ tool: DM, input: { to: 'frank', content } }]),
    });
    assert.equal(alice.code, 0, `the headless sender failed: ${alice.stderr || alice.stdout}`);
    const result = toolResult(alice.standin, DM);
    assert.equal(result?.success, true, `dm tool result: ${JSON.stringify(result)}`);
    assert.equal(result.recipient_online, true);
    assert.equal(result.recipient_can_receive_push, false, `frank's Claude Code was started without the channel flag: ${JSON.stringify(result)}`);
    assert.equal(result.will_see, 'on_inbox', 'the sender is told it waits for an inbox call');
    const who = JSON.parse((await env.ccdm(['who', '--json'])).stdout) as { name: string; path: string }[];
    assert.equal(who.find((s) => s.name === 'frank')?.path, 'pull', 'who says frank pulls');

    // Not delivered: nothing was pushed into a session that would drop it.
    const before = await trace(env, result.message_id);
    assert.equal(before?.recipients.find((r) => r.to === 'frank')?.state, 'queued', `trace: ${JSON.stringify(before)}`);
    assert.ok(
      !frank.standin.requests.some((r) => channelsIn(r).some((e) => e.attrs.message_id === result.message_id)),
      'no <channel> event reached frank',
    );

    // frank's model pulls it.
    frank.type('Please check your inbox.');
    const req = await frank.standin.waitForRequest(
      (r) => (lastToolResultText(r, INBOX) ?? '').includes(result.message_id),
      `frank's model request with the inbox result holding ${result.message_id}`,
    );
    const inbox = JSON.parse(lastToolResultText(req, INBOX)!);
    const got = JSON.stringify(inbox);
    assert.ok(got.includes(JSON.stringify(content).slice(1, -1)), `inbox result holds the exact content: ${got}`);
    assert.ok(got.includes('"alice"'), `inbox result names the sender: ${got}`);
    const after = await trace(env, result.message_id);
    const row = after?.recipients.find((r) => r.to === 'frank');
    assert.equal(row?.state, 'delivered', `trace: ${JSON.stringify(after)}`);
    assert.equal(row?.delivered_via, 'pull');
  });
});
