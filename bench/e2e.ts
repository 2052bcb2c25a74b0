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
 *   codex:    the real Codex CLI (issue 15), a TUI on its shared daemon set up by `cc-dm setup
 *             codex`: the same sender's `dm` tool call -> the thread's next model request carrying
 *             the framed message; idle (woken through Codex's queue) and busy (a 4 s tool).
 *   gemini:   the real Gemini CLI, set up by `cc-dm setup gemini`, its model running cc-dm's
 *             wait in the background: idle (woken by the waiter) and busy (a 4 s tool).
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
import { cliShims, framedCount, setupHost, waitForWho } from '../test/e2e/agent-peers.js';
import { CodexEnv } from '../test/e2e/codex.js';
import { GeminiEnv } from '../test/e2e/gemini.js';
import { newestText as codexNewest, requestText as codexText, threadIdOf } from '../test/e2e/standin-responses.js';
import {
  isStreamRequest,
  newestContents,
  newestText as geminiNewest,
  requestText as geminiText,
} from '../test/e2e/standin-gemini.js';
import { codexThreadName } from '../src/channel/main.js';

const { values: v } = parseArgs({
  options: {
    runs: { type: 'string', default: '9' },
    hosts: { type: 'string', default: 'claude,codex,gemini' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (v.help) {
  process.stdout.write('usage: npm run bench:e2e -- [--runs 9] [--hosts claude,codex,gemini] [--json]\n');
  process.exit(0);
}
const RUNS = Math.max(1, Number(v.runs));
const HOSTS = new Set(String(v.hosts).split(',').map((h) => h.trim()));
for (const h of HOSTS) if (!['claude', 'codex', 'gemini'].includes(h)) throw new Error(`--hosts: unknown host ${h} (claude, codex, gemini)`);
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
  const claudeRuns = HOSTS.has('claude');
  const base = claudeRuns ? await E2eEnv.create('bench-baseline') : undefined;
  // cc-dm: receiver bob and sender alice, both interactive, cc-dm installed as the plugin.
  const ccdm = await E2eEnv.create('bench-ccdm');
  let codex: CodexEnv | undefined;
  let gemini: GeminiEnv | undefined;
  try {
    let receiver: InteractiveSession | undefined;
    let pushDir = '';
    let bob: InteractiveSession | undefined;
    let carl: InteractiveSession | undefined;
    if (base) {
      pushDir = path.join(base.root, 'push');
      fs.mkdirSync(pushDir);
      const cfg = base.writeMcpConfig('pushonly', process.execPath, [path.join(E2E_DIST_DIR, 'push-only-server.js'), pushDir]);
      receiver = await base.startInteractive({
        name: 'base',
        mcpConfig: cfg,
        channelSpec: ['plugin:cc-dm@cc-dm', 'server:pushonly'],
      });
      // --name makes them reachable by Claude Code's built-in SendMessage too (the comparison).
      bob = await ccdm.startInteractive({ name: 'bob', role: 'receiver', extraArgs: ['--name', 'bob'] });
      // The hook path's receiver: no channel flag; the plugin's hooks carry mail in.
      carl = await ccdm.startInteractive({ name: 'carl', role: 'receiver', channels: false, script: busyScript(BUSY_TOOL_S), allowedTools: ['Bash'] });
      await carl.waitForDebug(/FileChanged: watching/, 'carl\'s bell watcher', 30_000);
    }

    // Codex: a TUI on its shared daemon (Codex's default), set up by cc-dm setup codex; its thread
    // is named at its first prompt.
    let codexName = '';
    let codexTui: Awaited<ReturnType<CodexEnv['startInteractive']>> | undefined;
    const codexVars: Record<string, string> = {};
    if (HOSTS.has('codex')) {
      codex = await CodexEnv.create('bench-codex', {
        ccdmHome: ccdm.ccdmHome,
        ccdmServer: false,
        hooks: false,
        trustHooks: false,
        script: (r) => (codexNewest(r).includes('RUN-BUSY') ? { call: { name: 'exec_command', arguments: { cmd: `sleep ${BUSY_TOOL_S}` } } } : { text: 'OK.' }),
      });
      Object.assign(codexVars, codex.baseEnv({ PATH: `${cliShims(codex, { codex: codex.cli })}:${process.env.PATH}` }));
      await setupHost(codex, 'codex', codexVars);
      codexTui = await codex.startInteractive({ name: 'cx', daemon: true });
      await codexTui.ready(180_000);
      await codexTui.submit('hello from the bench');
      const first = await codex.standin.waitForRequest((r) => codexNewest(r).includes('hello from the bench'), "codex's first prompt", 60_000);
      codexName = codexThreadName(threadIdOf(first)!);
      await waitForWho(codex, codexName, { presence: 'idle', wake: 'queue' }, codexVars, 60_000);
    }
    // Gemini CLI: set up by cc-dm setup gemini; its model starts cc-dm's wait in the background.
    let geminiTui: Awaited<ReturnType<GeminiEnv['startInteractive']>> | undefined;
    const geminiVars: Record<string, string> = {};
    if (HOSTS.has('gemini')) {
      let waitCmd: string | undefined;
      gemini = await GeminiEnv.create('bench-gemini', {
        ccdmHome: ccdm.ccdmHome,
        ccdmServer: false,
        hooks: false,
        script: (r) => {
          waitCmd ??= /again each time it has finished: ([^\n]+)/.exec(geminiText(r))?.[1];
          if (newestContents(r).some((c) => (c.parts ?? []).some((p) => p.functionResponse))) return { text: 'OK.' };
          const newest = geminiNewest(r);
          if (newest.includes('RUN-BUSY')) return { call: { name: 'run_shell_command', args: { command: `sleep ${BUSY_TOOL_S}`, description: 'busy' } } };
          if (newest.includes('START-WAITER') || newest.includes('cc-dm: new mail for'))
            return { call: { name: 'run_shell_command', args: { command: waitCmd ?? 'false', description: 'cc-dm wait', is_background: true } } };
          return { text: 'OK.' };
        },
      });
      Object.assign(geminiVars, gemini.baseEnv({ PATH: `${cliShims(gemini, {})}:${process.env.PATH}` }));
      await setupHost(gemini, 'gemini', geminiVars);
      geminiTui = await gemini.startInteractive({ name: 'gm', env: { CC_DM_SESSION_NAME: 'gem' } });
      await geminiTui.ready(120_000);
      await geminiTui.submit('START-WAITER for the bench');
      await waitForWho(gemini, 'gem', { presence: 'idle', wake: 'waiter' }, geminiVars, 60_000);
    }

    const alice = await ccdm.startInteractive({
      name: 'alice',
      role: 'sender',
      extraArgs: ['--name', 'alice'],
      allowedTools: [DM, 'SendMessage'],
      script: (r) => {
        if (!isMainLoopRequest(r)) return { text: 'OK' };
        const m = /(send|builtin|hook|codex|gemini) run ([\w-]+) token (\S+)/.exec(lastRunText(r));
        if (!m) return { text: 'Ready.' };
        const to = { send: 'bob', hook: 'carl', codex: codexName, gemini: 'gem' }[m[1] as 'send'];
        const call =
          m[1] === 'builtin'
            ? { tool: 'SendMessage', input: { to: 'bob', message: `builtin run ${m[2]} ${m[3]}` } }
            : { tool: DM, input: { to, content: `${m[1] === 'send' ? 'bench' : m[1] === 'hook' ? 'carl' : m[1]} run ${m[2]} ${m[3]}` } };
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
    const codexIdle: number[] = [];
    const codexBusy: number[] = [];
    const codexBusyAfterTool: number[] = [];
    const geminiIdle: number[] = [];
    const geminiBusy: number[] = [];
    const geminiBusyAfterTool: number[] = [];

    /** Alice dms the Codex thread or the Gemini CLI session; resolves with the decision time and its request. */
    const agentRun = async (host: 'codex' | 'gemini', label: string, standin: { waitForRequest: CodexEnv['standin']['waitForRequest'] } | GeminiEnv['standin']) => {
      const aliceTurns = turnEnds(alice);
      const token = randomUUID();
      const content = `${host} run ${label} ${token}`;
      alice.type(`${host} run ${label} token ${token}`);
      const text = host === 'codex' ? codexText : geminiText;
      const req = await (standin as CodexEnv['standin']).waitForRequest((r) => text(r).includes(content), `${host} run ${label}`, 60_000);
      const call = alice.standin.requests.find(
        (r) => r.reply && 'toolUse' in r.reply && r.reply.toolUse.name === DM && JSON.stringify(r.reply.toolUse.input).includes(token),
      );
      if (!call?.repliedAt) throw new Error(`${host} run ${label}: no record of alice's dm tool call`);
      await idleAfter(alice, aliceTurns + 1);
      return { decided: call.repliedAt, req };
    };

    /** Alice dms carl (the hook path); resolves with the decision time and carl's request. */
    const hookRun = async (label: string) => {
      const aliceTurns = turnEnds(alice);
      const token = randomUUID();
      const content = `carl run ${label} ${token}`;
      alice.type(`hook run ${label} token ${token}`);
      const req = await carl!.standin.waitForRequest(
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
      if (claudeRuns) {
        // --- baseline run
        {
          const turns = turnEnds(receiver!);
          const off = receiver!.debugLog().length;
          const content = `baseline run ${i} ${randomUUID()}`;
          const tmp = path.join(pushDir, `${i}.tmp`);
          fs.writeFileSync(tmp, JSON.stringify({ content, meta: { from_session: 'bench', run: String(i) } }));
          fs.renameSync(tmp, path.join(pushDir, `${i}.json`));
          const req = await receiver!.standin.waitForRequest(hasChannel((e) => e.content === content), `baseline run ${i} at the receiver`);
          const pushedFile = path.join(pushDir, `${i}.pushed`);
          const pushed = await waitUntil(
            () => (fs.existsSync(pushedFile) ? (JSON.parse(fs.readFileSync(pushedFile, 'utf8')) as { before: number; after: number }) : undefined),
            `the push-only server's record of push ${i}`,
            10_000,
          );
          baseline.push(req.at - pushed.after);
          const notif = debugTime(receiver!, CHANNEL_IN, off);
          if (notif !== undefined) baseNotifToReq.push(req.at - notif);
          await idleAfter(receiver!, turns + 1);
        }
        // --- cc-dm run
        {
          const bobTurns = turnEnds(bob!);
          const aliceTurns = turnEnds(alice);
          const bobOff = bob!.debugLog().length;
          const aliceOff = alice.debugLog().length;
          const token = randomUUID();
          const content = `bench run ${i} ${token}`;
          alice.type(`send run ${i} token ${token}`);
          const req = await bob!.standin.waitForRequest(hasChannel((e) => e.content === content), `cc-dm run ${i} at bob`);
          const call = alice.standin.requests.find(
            (r) => r.reply && 'toolUse' in r.reply && r.reply.toolUse.name === DM && JSON.stringify(r.reply.toolUse.input).includes(token),
          );
          if (!call?.repliedAt) throw new Error(`run ${i}: no record of alice's dm tool call`);
          const ev = channelsIn(req).find((e) => e.content === content)!;
          const sentAt = Date.parse(ev.attrs.sent_at);
          total.push(req.at - call.repliedAt);
          const called = debugTime(alice, /Calling MCP tool: dm\b/, aliceOff);
          const notif = debugTime(bob!, CHANNEL_IN, bobOff);
          if (called !== undefined) {
            toCall.push(called - call.repliedAt);
            callToSent.push(sentAt - called);
            callToReq.push(req.at - called);
          }
          if (notif !== undefined) {
            sentToNotif.push(notif - sentAt);
            notifToReq.push(req.at - notif);
          }
          await idleAfter(bob!, bobTurns + 1);
          await idleAfter(alice, aliceTurns + 1);
        }
        // --- cc-dm from the CLI (no sender Claude Code): `cc-dm send bob ...`
        {
          const bobTurns = turnEnds(bob!);
          const bobOff = bob!.debugLog().length;
          const content = `cli run ${i} ${randomUUID()}`;
          const sent = await ccdm.ccdm(['send', 'bob', content]);
          if (sent.code !== 0) throw new Error(`cc-dm send failed: ${sent.stderr}`);
          const req = await bob!.standin.waitForRequest(hasChannel((e) => e.content === content), `cli run ${i} at bob`);
          const ev = channelsIn(req).find((e) => e.content === content)!;
          const sentAt = Date.parse(ev.attrs.sent_at);
          cliSentToReq.push(req.at - sentAt);
          const notif = debugTime(bob!, CHANNEL_IN, bobOff);
          if (notif !== undefined) {
            cliSentToNotif.push(notif - sentAt);
            cliNotifToReq.push(req.at - notif);
          }
          await idleAfter(bob!, bobTurns + 1);
        }
        // --- Claude Code's built-in SendMessage between the same two sessions
        {
          const bobTurns = turnEnds(bob!);
          const aliceTurns = turnEnds(alice);
          const token = randomUUID();
          alice.type(`builtin run ${i} token ${token}`);
          const req = await bob!.standin.waitForRequest(
            (r) => isMainLoopRequest(r) && messagesText(r).includes(`builtin run ${i} ${token}`),
            `SendMessage run ${i} at bob`,
          );
          const call = alice.standin.requests.find(
            (r) => r.reply && 'toolUse' in r.reply && r.reply.toolUse.name === 'SendMessage' && JSON.stringify(r.reply.toolUse.input).includes(token),
          );
          if (!call?.repliedAt) throw new Error(`run ${i}: no record of alice's SendMessage tool call`);
          builtin.push(req.at - call.repliedAt);
          await idleAfter(bob!, bobTurns + 1);
          await idleAfter(alice, aliceTurns + 1);
        }
        // --- the hook path, idle: carl is waiting for input
        {
          const carlTurns = turnEnds(carl!);
          const { decided, req } = await hookRun(`idle-${i}`);
          hookIdle.push(req.at - decided);
          await idleAfter(carl!, carlTurns + 1);
        }
        // --- the hook path, busy: carl runs a tool when the dm comes
        {
          const carlTurns = turnEnds(carl!);
          const from = carl!.standin.requests.length;
          carl!.type('RUN-BUSY now');
          const toolReq = await carl!.standin.waitForRequest((r) => !!r.reply && 'toolUse' in r.reply, 'carl\'s Bash tool call', 30_000, from);
          await waitUntil(() => toolReq.repliedAt, 'the tool call reply');
          await new Promise((r) => setTimeout(r, BUSY_SEND_AFTER_MS));
          const { decided, req } = await hookRun(`busy-${i}`);
          hookBusy.push(req.at - decided);
          // The tool ends about BUSY_TOOL_S after its tool_use was handed to Claude Code.
          hookBusyAfterTool.push(req.at - Math.max(decided, toolReq.repliedAt! + BUSY_TOOL_S * 1000));
          await settled(carl!, carlTurns);
        }
      }
      // --- Codex, idle: its thread is woken through Codex's queue
      if (codex && codexTui) {
        await waitForWho(codex, codexName, { presence: 'idle' }, codexVars);
        const { decided, req } = await agentRun('codex', `idle-${i}`, codex.standin);
        codexIdle.push(req.at - decided);
        // --- Codex, busy: a dm while its tool runs comes with the tool's result
        await waitForWho(codex, codexName, { presence: 'idle' }, codexVars);
        const from = codex.standin.nextSeq();
        await codexTui.submit(`RUN-BUSY ${i}`);
        const toolReq = await codex.standin.waitForRequest((r) => codexNewest(r).includes('RUN-BUSY') && !!r.repliedAt, "codex's tool call", 60_000, from);
        await new Promise((r) => setTimeout(r, BUSY_SEND_AFTER_MS));
        const busy = await agentRun('codex', `busy-${i}`, codex.standin);
        codexBusy.push(busy.req.at - busy.decided);
        codexBusyAfterTool.push(busy.req.at - Math.max(busy.decided, toolReq.repliedAt! + BUSY_TOOL_S * 1000));
      }
      // --- Gemini CLI, idle: woken by the cc-dm wait its model runs in the background
      if (gemini && geminiTui) {
        await waitForWho(gemini, 'gem', { presence: 'idle', wake: 'waiter' }, geminiVars, 60_000);
        const { decided, req } = await agentRun('gemini', `idle-${i}`, gemini.standin);
        geminiIdle.push(req.at - decided);
        // --- Gemini CLI, busy
        await waitForWho(gemini, 'gem', { presence: 'idle', wake: 'waiter' }, geminiVars, 60_000);
        const from = gemini.standin.nextSeq();
        await geminiTui.submit(`RUN-BUSY ${i}`);
        const toolReq = await gemini.standin.waitForRequest(
          (r) => isStreamRequest(r) && geminiNewest(r).includes('RUN-BUSY') && !!r.repliedAt,
          "gemini's tool call",
          60_000,
          from,
        );
        await new Promise((r) => setTimeout(r, BUSY_SEND_AFTER_MS));
        const busy = await agentRun('gemini', `busy-${i}`, gemini.standin);
        geminiBusy.push(busy.req.at - busy.decided);
        geminiBusyAfterTool.push(busy.req.at - Math.max(busy.decided, toolReq.repliedAt! + BUSY_TOOL_S * 1000));
      }
      const last = (xs: number[]) => (xs.length >= i ? fmt(xs[i - 1]!) : '-');
      log(
        `run ${i}/${RUNS}: baseline ${last(baseline)}, cc-dm ${last(total)}, ` +
          `hook idle ${last(hookIdle)}, hook busy ${last(hookBusy)} (${last(hookBusyAfterTool)} after the tool), ` +
          `cc-dm from the CLI (sent_at -> request) ${last(cliSentToReq)}, built-in SendMessage ${last(builtin)}, ` +
          `codex idle ${last(codexIdle)}, busy ${last(codexBusy)}; gemini idle ${last(geminiIdle)}, busy ${last(geminiBusy)}`,
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
      codex_cli: HOSTS.has('codex') ? codex?.cli.spec.version : undefined,
      codex_queue_idle_tool_call_to_request_ms: stat(codexIdle),
      codex_busy_tool_call_to_request_ms: stat(codexBusy),
      codex_busy_tool_end_to_request_ms: stat(codexBusyAfterTool),
      gemini_cli: HOSTS.has('gemini') ? gemini?.cli.spec.version : undefined,
      gemini_waiter_idle_tool_call_to_request_ms: stat(geminiIdle),
      gemini_busy_tool_call_to_request_ms: stat(geminiBusy),
      gemini_busy_tool_end_to_request_ms: stat(geminiBusyAfterTool),
      target: `cc-dm median <= baseline median + ${TARGET_MS} ms`,
      target_met: claudeRuns ? median(total) <= median(baseline) + TARGET_MS : undefined,
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
        row('Codex (daemon TUI), idle: tool call -> request (queue)', codexIdle),
        row(`Codex, busy (${BUSY_TOOL_S} s tool): tool call -> request`, codexBusy),
        row('  the same, from the end of that tool', codexBusyAfterTool),
        row('Gemini CLI, idle: tool call -> request (cc-dm wait)', geminiIdle),
        row(`Gemini CLI, busy (${BUSY_TOOL_S} s tool): tool call -> request`, geminiBusy),
        row('  the same, from the end of that tool', geminiBusyAfterTool),
        ...(claudeRuns
          ? [
          `target: cc-dm median <= baseline median + ${TARGET_MS} ms  ` +
            `(${fmt(median(total))} <= ${fmt(median(baseline) + TARGET_MS)}): ${result.target_met ? 'met' : 'NOT met'}`,
          `without Claude Code A's own tool dispatch (MCP call -> request): ${callToReq.length ? fmt(median(callToReq)) : 'n/a'} ` +
            `vs ${fmt(median(baseline) + TARGET_MS)}: ${callToReq.length && median(callToReq) <= median(baseline) + TARGET_MS ? 'met' : 'NOT met'}`,
            ]
          : []),
        '(debug-log times have 1 ms resolution; sent_at is cc-dm\'s own timestamp)',
        `machine: ${os.cpus().length} CPUs, load average ${os.loadavg()[0].toFixed(2)} at the end ` +
          '(two Claude Code processes compete for CPU in the session-to-session runs)',
      ];
      process.stdout.write(lines.join('\n') + '\n');
    }
  } finally {
    await gemini?.cleanup();
    await codex?.cleanup();
    await base?.cleanup();
    await ccdm.cleanup();
  }
}

/** The newest user text that asks for a run (so earlier runs in the history are ignored). */
function lastRunText(r: Parameters<typeof messagesText>[0]): string {
  const text = messagesText(r);
  const idx = Math.max(...['send run ', 'builtin run ', 'hook run ', 'codex run ', 'gemini run '].map((k) => text.lastIndexOf(k)));
  return idx >= 0 ? text.slice(idx, idx + 200) : '';
}

main().catch((err) => {
  process.stderr.write(`bench:e2e failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
