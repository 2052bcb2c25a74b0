/**
 * `npm run bench:e2e`: how long a dm takes inside real Claude Code, offline (issue 8, item 3).
 *
 *   cc-dm:    sender's tool call (the Messages API stand-in has written the `dm` tool_use to
 *             session A) -> session B's next model request carrying the <channel> event.
 *   baseline: Claude Code's own channel time, measured in the same run with a tiny server that
 *             only pushes: the push written to stdout -> the idle session's next model request.
 *   built-in: Claude Code's own SendMessage between the same two sessions, for comparison.
 *   cli:      `cc-dm send bob ...` from the CLI: cc-dm's path without a sender Claude Code.
 *   hook:     the channel-less path (issue 14): the same sender's `dm` tool call -> the next
 *             model request of carl, a Claude Code started WITHOUT the channel flag, carrying the
 *             framed message; idle (a new turn), and busy (carl runs a 4 s tool; reported both
 *             from the dm and from the end of that tool).
 *
 * Target: cc-dm's median at most 10 ms above the baseline's median.
 *
 *   npm run bench:e2e -- [--runs 9] [--json]
 *
 * Runs alternate (baseline, cc-dm, baseline, ...) so both see the same machine load. Each run
 * starts once both receivers are idle again (their turn has ended, read from --debug-file).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { randomUUID } from 'node:crypto';
import { E2eEnv, E2E_DIST_DIR, InteractiveSession, pluginTool, waitUntil } from '../test/e2e/claude.js';
import { channelsIn, hasChannel, nextToolStepSince } from '../test/e2e/flows.js';
import { isMainLoopRequest, messagesText } from '../test/e2e/standin.js';
import { requirePrerequisites } from '../test/e2e/common.js';
import { busyScript } from '../test/e2e/hooks-lab/lab.js';

const { values: v } = parseArgs({
  options: {
    runs: { type: 'string', default: '9' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (v.help) {
  process.stdout.write('usage: npm run bench:e2e -- [--runs 9] [--json]\n');
  process.exit(0);
}
const RUNS = Math.max(1, Number(v.runs));
const DM = pluginTool('dm');
const TARGET_MS = 10;
/** The hook path's busy runs: carl's tool sleeps this long, and the dm is sent this far into it. */
const BUSY_TOOL_S = 4;
const BUSY_SEND_AFTER_MS = 1_000;
const CLAUDE_CODE_VERSION = (JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { devDependencies: Record<string, string> })
  .devDependencies['@anthropic-ai/claude-code'];

function turnEnds(s: InteractiveSession): number {
  return (s.debugLog().match(/\[engine\] turn \d+ end/g) ?? []).length;
}

/** Wait until the session has ended `n` turns (its reply to the last message is done). */
async function idleAfter(s: InteractiveSession, n: number): Promise<void> {
  await waitUntil(() => turnEnds(s) >= n, `${s.name} to end turn ${n}`, 30_000, () => s.describe());
}

/**
 * Wait until the session has ended a turn since `turnsBefore` and gone quiet: every model request
 * answered a second ago or more. (Mail delivered mid-turn joins the running turn; mail whose hook
 * finishes after the turn ended starts one more: either way the session ends idle.)
 */
async function settled(s: InteractiveSession, turnsBefore: number): Promise<void> {
  await waitUntil(
    () => {
      const reqs = s.standin.requests;
      const last = reqs[reqs.length - 1];
      return turnEnds(s) > turnsBefore && reqs.every((r) => r.repliedAt) && (!last?.repliedAt || Date.now() - last.repliedAt >= 1_000);
    },
    `${s.name} to end its turn and go quiet`,
    30_000,
    () => s.describe(),
  );
}

/** Time (ms since epoch) of the first debug-log line after `from` (a character offset) matching re. */
function debugTime(s: InteractiveSession, re: RegExp, from: number): number | undefined {
  for (const line of s.debugLog().slice(from).split('\n')) {
    if (re.test(line)) {
      const t = Date.parse(line.slice(0, 24));
      if (!Number.isNaN(t)) return t;
    }
  }
  return undefined;
}

const CHANNEL_IN = /notifications\/claude\/channel \(\d+ chars\)/;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const fmt = (x: number) => `${x.toFixed(1)} ms`;

async function main() {
  requirePrerequisites();
  const log = (m: string) => process.stderr.write(`[bench:e2e] ${m}\n`);

  // Baseline: one receiver with the push-only server loaded as a development channel, next to
  // the cc-dm plugin (so its context and tools are those of a cc-dm receiver).
  const base = await E2eEnv.create('bench-baseline');
  // cc-dm: receiver bob and sender alice, both interactive, cc-dm installed as the plugin.
  const ccdm = await E2eEnv.create('bench-ccdm');
  try {
    const pushDir = path.join(base.root, 'push');
    fs.mkdirSync(pushDir);
    const cfg = base.writeMcpConfig('pushonly', process.execPath, [path.join(E2E_DIST_DIR, 'push-only-server.js'), pushDir]);
    const receiver = await base.startInteractive({
      name: 'base',
      mcpConfig: cfg,
      channelSpec: ['plugin:cc-dm@cc-dm', 'server:pushonly'],
    });

    // --name makes them reachable by Claude Code's built-in SendMessage too (the comparison).
    const bob = await ccdm.startInteractive({ name: 'bob', role: 'receiver', extraArgs: ['--name', 'bob'] });
    // The hook path's receiver: no channel flag; the plugin's hooks carry mail in.
    const carl = await ccdm.startInteractive({ name: 'carl', role: 'receiver', channels: false, script: busyScript(BUSY_TOOL_S), allowedTools: ['Bash'] });
    await carl.waitForDebug(/FileChanged: watching/, 'carl\'s bell watcher', 30_000);
    const alice = await ccdm.startInteractive({
      name: 'alice',
      role: 'sender',
      extraArgs: ['--name', 'alice'],
      allowedTools: [DM, 'SendMessage'],
      script: (r) => {
        if (!isMainLoopRequest(r)) return { text: 'OK' };
        const m = /(send|builtin|hook) run ([\w-]+) token (\S+)/.exec(lastRunText(r));
        if (!m) return { text: 'Ready.' };
        const call =
          m[1] === 'send'
            ? { tool: DM, input: { to: 'bob', content: `bench run ${m[2]} ${m[3]}` } }
            : m[1] === 'hook'
              ? { tool: DM, input: { to: 'carl', content: `carl run ${m[2]} ${m[3]}` } }
              : { tool: 'SendMessage', input: { to: 'bob', message: `builtin run ${m[2]} ${m[3]}` } };
        return nextToolStepSince(r, [call], m[0]) ?? { text: 'Sent.' };
      },
    });

    const baseline: number[] = [];
    const baseNotifToReq: number[] = [];
    const total: number[] = [];
    const toCall: number[] = [];
    const callToSent: number[] = [];
    const callToReq: number[] = [];
    const sentToNotif: number[] = [];
    const notifToReq: number[] = [];
    const builtin: number[] = [];
    const cliSentToReq: number[] = [];
    const cliSentToNotif: number[] = [];
    const cliNotifToReq: number[] = [];
    const hookIdle: number[] = [];
    const hookBusy: number[] = [];
    const hookBusyAfterTool: number[] = [];

    /** Alice dms carl (the hook path); resolves with the decision time and carl's request. */
    const hookRun = async (label: string) => {
      const aliceTurns = turnEnds(alice);
      const token = randomUUID();
      const content = `carl run ${label} ${token}`;
      alice.type(`hook run ${label} token ${token}`);
      const req = await carl.standin.waitForRequest(
        (r) => isMainLoopRequest(r) && messagesText(r).includes(content),
        `hook run ${label} at carl`,
        60_000,
      );
      const call = alice.standin.requests.find(
        (r) => r.reply && 'toolUse' in r.reply && r.reply.toolUse.name === DM && JSON.stringify(r.reply.toolUse.input).includes(token),
      );
      if (!call?.repliedAt) throw new Error(`hook run ${label}: no record of alice's dm tool call`);
      await idleAfter(alice, aliceTurns + 1);
      return { decided: call.repliedAt, req };
    };

    for (let i = 1; i <= RUNS; i++) {
      // --- baseline run
      {
        const turns = turnEnds(receiver);
        const off = receiver.debugLog().length;
        const content = `baseline run ${i} ${randomUUID()}`;
        const tmp = path.join(pushDir, `${i}.tmp`);
        fs.writeFileSync(tmp, JSON.stringify({ content, meta: { from_session: 'bench', run: String(i) } }));
        fs.renameSync(tmp, path.join(pushDir, `${i}.json`));
        const req = await receiver.standin.waitForRequest(hasChannel((e) => e.content === content), `baseline run ${i} at the receiver`);
        const pushedFile = path.join(pushDir, `${i}.pushed`);
        const pushed = await waitUntil(
          () => (fs.existsSync(pushedFile) ? (JSON.parse(fs.readFileSync(pushedFile, 'utf8')) as { before: number; after: number }) : undefined),
          `the push-only server's record of push ${i}`,
          10_000,
        );
        baseline.push(req.at - pushed.after);
        const notif = debugTime(receiver, CHANNEL_IN, off);
        if (notif !== undefined) baseNotifToReq.push(req.at - notif);
        await idleAfter(receiver, turns + 1);
      }
      // --- cc-dm run
      {
        const bobTurns = turnEnds(bob);
        const aliceTurns = turnEnds(alice);
        const bobOff = bob.debugLog().length;
        const aliceOff = alice.debugLog().length;
        const token = randomUUID();
        const content = `bench run ${i} ${token}`;
        alice.type(`send run ${i} token ${token}`);
        const req = await bob.standin.waitForRequest(hasChannel((e) => e.content === content), `cc-dm run ${i} at bob`);
        const call = alice.standin.requests.find(
          (r) => r.reply && 'toolUse' in r.reply && r.reply.toolUse.name === DM && JSON.stringify(r.reply.toolUse.input).includes(token),
        );
        if (!call?.repliedAt) throw new Error(`run ${i}: no record of alice's dm tool call`);
        const ev = channelsIn(req).find((e) => e.content === content)!;
        const sentAt = Date.parse(ev.attrs.sent_at);
        total.push(req.at - call.repliedAt);
        const called = debugTime(alice, /Calling MCP tool: dm\b/, aliceOff);
        const notif = debugTime(bob, CHANNEL_IN, bobOff);
        if (called !== undefined) {
          toCall.push(called - call.repliedAt);
          callToSent.push(sentAt - called);
          callToReq.push(req.at - called);
        }
        if (notif !== undefined) {
          sentToNotif.push(notif - sentAt);
          notifToReq.push(req.at - notif);
        }
        await idleAfter(bob, bobTurns + 1);
        await idleAfter(alice, aliceTurns + 1);
      }
      // --- cc-dm from the CLI (no sender Claude Code): `cc-dm send bob ...`
      {
        const bobTurns = turnEnds(bob);
        const bobOff = bob.debugLog().length;
        const content = `cli run ${i} ${randomUUID()}`;
        const sent = await ccdm.ccdm(['send', 'bob', content]);
        if (sent.code !== 0) throw new Error(`cc-dm send failed: ${sent.stderr}`);
        const req = await bob.standin.waitForRequest(hasChannel((e) => e.content === content), `cli run ${i} at bob`);
        const ev = channelsIn(req).find((e) => e.content === content)!;
        const sentAt = Date.parse(ev.attrs.sent_at);
        cliSentToReq.push(req.at - sentAt);
        const notif = debugTime(bob, CHANNEL_IN, bobOff);
        if (notif !== undefined) {
          cliSentToNotif.push(notif - sentAt);
          cliNotifToReq.push(req.at - notif);
        }
        await idleAfter(bob, bobTurns + 1);
      }
      // --- Claude Code's built-in SendMessage between the same two sessions
      {
        const bobTurns = turnEnds(bob);
        const aliceTurns = turnEnds(alice);
        const token = randomUUID();
        alice.type(`builtin run ${i} token ${token}`);
        const req = await bob.standin.waitForRequest(
          (r) => isMainLoopRequest(r) && messagesText(r).includes(`builtin run ${i} ${token}`),
          `SendMessage run ${i} at bob`,
        );
        const call = alice.standin.requests.find(
          (r) => r.reply && 'toolUse' in r.reply && r.reply.toolUse.name === 'SendMessage' && JSON.stringify(r.reply.toolUse.input).includes(token),
        );
        if (!call?.repliedAt) throw new Error(`run ${i}: no record of alice's SendMessage tool call`);
        builtin.push(req.at - call.repliedAt);
        await idleAfter(bob, bobTurns + 1);
        await idleAfter(alice, aliceTurns + 1);
      }
      // --- the hook path, idle: carl is waiting for input
      {
        const carlTurns = turnEnds(carl);
        const { decided, req } = await hookRun(`idle-${i}`);
        hookIdle.push(req.at - decided);
        await idleAfter(carl, carlTurns + 1);
      }
      // --- the hook path, busy: carl runs a tool when the dm comes
      {
        const carlTurns = turnEnds(carl);
        const from = carl.standin.requests.length;
        carl.type('RUN-BUSY now');
        const toolReq = await carl.standin.waitForRequest((r) => !!r.reply && 'toolUse' in r.reply, 'carl\'s Bash tool call', 30_000, from);
        await waitUntil(() => toolReq.repliedAt, 'the tool call reply');
        await new Promise((r) => setTimeout(r, BUSY_SEND_AFTER_MS));
        const { decided, req } = await hookRun(`busy-${i}`);
        hookBusy.push(req.at - decided);
        // The tool ends about BUSY_TOOL_S after its tool_use was handed to Claude Code.
        hookBusyAfterTool.push(req.at - Math.max(decided, toolReq.repliedAt! + BUSY_TOOL_S * 1000));
        await settled(carl, carlTurns);
      }
      log(
        `run ${i}/${RUNS}: baseline ${fmt(baseline[i - 1])}, cc-dm ${fmt(total[i - 1])}, ` +
          `hook idle ${fmt(hookIdle[i - 1]!)}, hook busy ${fmt(hookBusy[i - 1]!)} (${fmt(hookBusyAfterTool[i - 1]!)} after the tool), ` +
          `cc-dm from the CLI (sent_at -> request) ${fmt(cliSentToReq[i - 1])}, built-in SendMessage ${fmt(builtin[i - 1])}`,
      );
    }

    const stat = (xs: number[]) => (xs.length ? { median: median(xs), worst: Math.max(...xs) } : undefined);
    const result = {
      claude_code: CLAUDE_CODE_VERSION,
      runs: RUNS,
      baseline_push_to_request_ms: { ...stat(baseline)!, all: baseline },
      ccdm_tool_call_to_request_ms: { ...stat(total)!, all: total },
      breakdown_ms: {
        baseline_claude_code_notification_to_request: stat(baseNotifToReq),
        ccdm_stand_in_tool_use_to_claude_code_mcp_call: stat(toCall),
        ccdm_mcp_call_to_request: stat(callToReq),
        ccdm_mcp_call_to_sent_at: stat(callToSent),
        ccdm_sent_at_to_receiver_claude_code_notification: stat(sentToNotif),
        ccdm_receiver_notification_to_request: stat(notifToReq),
      },
      builtin_sendmessage_tool_call_to_request_ms: { ...stat(builtin)!, all: builtin },
      ccdm_cli_send_sent_at_to_request_ms: stat(cliSentToReq),
      hook_path_idle_tool_call_to_request_ms: stat(hookIdle),
      hook_path_busy_tool_call_to_request_ms: stat(hookBusy),
      hook_path_busy_tool_end_to_request_ms: stat(hookBusyAfterTool),
      ccdm_cli_breakdown_ms: {
        sent_at_to_receiver_claude_code_notification: stat(cliSentToNotif),
        receiver_notification_to_request: stat(cliNotifToReq),
      },
      target: `cc-dm median <= baseline median + ${TARGET_MS} ms`,
      target_met: median(total) <= median(baseline) + TARGET_MS,
      machine: { cpus: os.cpus().length, loadavg_1m_at_end: os.loadavg()[0] },
    };
    if (v.json) {
      process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    } else {
      const row = (name: string, xs: number[]) =>
        xs.length ? `${name.padEnd(58)} ${fmt(median(xs)).padStart(10)} ${fmt(Math.max(...xs)).padStart(10)}` : `${name.padEnd(58)} (not measured)`;
      const lines = [
        `e2e latency inside real Claude Code ${CLAUDE_CODE_VERSION}, ${RUNS} runs (offline, Messages API stand-in)`,
        `${''.padEnd(58)} ${'median'.padStart(10)} ${'worst'.padStart(10)}`,
        row('baseline: push-only server push -> request', baseline),
        row('  Claude Code: notification logged -> request', baseNotifToReq),
        row('cc-dm: sender tool call -> receiver request', total),
        row('  Claude Code A: tool_use received -> MCP call logged', toCall),
        row('  from the MCP call logged by A -> receiver request', callToReq),
        row('  cc-dm sender: MCP call -> sent_at (stored)', callToSent),
        row('  cc-dm: sent_at -> notification logged by Claude Code B', sentToNotif),
        row('  Claude Code B: notification logged -> request', notifToReq),
        row("Claude Code's built-in SendMessage: tool call -> request", builtin),
        row('cc-dm send (CLI, no sender Claude Code): sent_at -> request', cliSentToReq),
        row('  cc-dm: sent_at -> notification logged by Claude Code B', cliSentToNotif),
        row('  Claude Code B: notification logged -> request', cliNotifToReq),
        row('hook path (no channel flag), idle: tool call -> request', hookIdle),
        row(`hook path, busy (${BUSY_TOOL_S} s tool): tool call -> request`, hookBusy),
        row('  the same, from the end of that tool', hookBusyAfterTool),
        `target: cc-dm median <= baseline median + ${TARGET_MS} ms  ` +
          `(${fmt(median(total))} <= ${fmt(median(baseline) + TARGET_MS)}): ${result.target_met ? 'met' : 'NOT met'}`,
        `without Claude Code A's own tool dispatch (MCP call -> request): ${callToReq.length ? fmt(median(callToReq)) : 'n/a'} ` +
          `vs ${fmt(median(baseline) + TARGET_MS)}: ${callToReq.length && median(callToReq) <= median(baseline) + TARGET_MS ? 'met' : 'NOT met'}`,
        '(debug-log times have 1 ms resolution; sent_at is cc-dm\'s own timestamp)',
        `machine: ${os.cpus().length} CPUs, load average ${os.loadavg()[0].toFixed(2)} at the end ` +
          '(two Claude Code processes compete for CPU in the session-to-session runs)',
      ];
      process.stdout.write(lines.join('\n') + '\n');
    }
  } finally {
    await base.cleanup();
    await ccdm.cleanup();
  }
}

/** The newest user text that asks for a run (so earlier runs in the history are ignored). */
function lastRunText(r: Parameters<typeof messagesText>[0]): string {
  const text = messagesText(r);
  const idx = Math.max(text.lastIndexOf('send run '), text.lastIndexOf('builtin run '), text.lastIndexOf('hook run '));
  return idx >= 0 ? text.slice(idx, idx + 200) : '';
}

main().catch((err) => {
  process.stderr.write(`bench:e2e failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
