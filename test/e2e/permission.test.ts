// End-to-end: the permission relay with Claude Code's own permission prompt. A worker with the
// relay on tries a tool that needs approval; its approver (named at launch) gets the request as
// a channel message, its model answers `yes <id>` or `no <id>` with dm, and the worker's dialog
// closes by itself: the tool runs, or the model gets a rejected tool result.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { pluginTool, withEnv, E2eEnv } from './claude.js';
import { callToolsScript, channelsIn, hasChannel, reactiveScript } from './flows.js';
import { RecordedRequest, isMainLoopRequest, messagesText, toolResults, toolUses } from './standin.js';
import { requirePrerequisites } from './common.js';

requirePrerequisites();

const DM = pluginTool('dm');

/** The Bash tool_result the worker's model got back, once it is in a request. */
function bashResult(r: RecordedRequest): { text: string; isError: boolean } | undefined {
  const use = toolUses(r).filter((u) => u.name === 'Bash').pop();
  if (!use) return undefined;
  const res = toolResults(r).get(use.id!);
  if (!res) return undefined;
  const text = typeof res.content === 'string' ? res.content : JSON.stringify(res.content ?? '');
  return { text, isError: res.is_error === true };
}

async function relay(env: E2eEnv, answer: 'yes' | 'no') {
  const marker = path.join(env.root, `ran-${answer}`);
  // The approver: its model answers every permission request it sees with `<answer> <id>`.
  const boss = await env.startInteractive({
    name: 'boss',
    role: 'lead',
    allowedTools: [DM],
    script: reactiveScript((e) => {
      const m = /\b(?:yes|no) ([a-z]{5})\b/i.exec(e.content);
      if (!m || !e.attrs.from_session) return undefined;
      return [{ tool: DM, input: { to: e.attrs.from_session, content: `${answer} ${m[1].toLowerCase()}` } }];
    }),
  });
  // The worker: relay on, approver named at launch, permissions asked (not auto mode).
  const runBash = callToolsScript(
    [{ tool: 'Bash', input: { command: `touch ${marker}`, description: 'Create the marker file' } }],
    'Finished.',
  );
  const worker = await env.startInteractive({
    name: 'worker',
    role: 'builder',
    permissionMode: 'manual',
    env: { CC_DM_PERMISSION_RELAY: '1', CC_DM_PERMISSION_APPROVER: 'boss' },
    script: (r) => {
      if (!isMainLoopRequest(r)) return { text: 'OK' };
      if (!/create the marker/i.test(messagesText(r))) return { text: 'Ready.' };
      return runBash(r, worker.standin);
    },
  });
  worker.type('Please create the marker file.');

  // The request reaches the approver's model as a channel message from the worker.
  const atBoss = await boss.standin.waitForRequest(
    hasChannel((e) => e.attrs.from_session === 'worker' && /\b(?:yes|no) [a-z]{5}\b/i.test(e.content)),
    "the approver's model request carrying the worker's permission request",
    45_000,
  );
  const ev = channelsIn(atBoss).find((e) => e.attrs.from_session === 'worker')!;
  assert.match(ev.content, /Bash/, `the request names the tool: ${ev.content}`);
  assert.equal(ev.attrs.to_session, 'boss');

  // The worker's dialog closes by itself and its model gets the tool's result.
  const after = await worker.standin.waitForRequest(
    (r) => isMainLoopRequest(r) && bashResult(r) !== undefined,
    "the worker's model request carrying the Bash tool result",
    45_000,
  );
  return { marker, result: bashResult(after)!, worker, boss };
}

test('permission relay: the approver answers "yes <id>" and the worker\'s tool runs', async () => {
  await withEnv('relay-yes', async (env) => {
    const { marker, result } = await relay(env, 'yes');
    assert.equal(result.isError, false, `the Bash tool ran: ${result.text}`);
    assert.ok(fs.existsSync(marker), 'the approved command created its marker file');
  });
});

test('permission relay: the approver answers "no <id>" and the worker\'s tool does not run', async () => {
  await withEnv('relay-no', async (env) => {
    const { marker, result } = await relay(env, 'no');
    assert.equal(result.isError, true, `the Bash tool was rejected: ${result.text}`);
    assert.ok(!fs.existsSync(marker), 'the denied command did not run');
  });
});
