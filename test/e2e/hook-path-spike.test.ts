// The hook delivery path (issue 14), spike: the prototype plugin in test/e2e/hooks-prototype/
// with the real Claude Code started WITHOUT any channel flag. Mail is queued in the prototype's
// file mailbox (a stand-in for cc-dm's store) and its bell rung; Claude Code's FileChanged hook
// (asyncRewake, exit 2) puts it into the model's context. See test/e2e/HOOKS-FACTS.md.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { E2eEnv, InteractiveSession, REPO_ROOT, log, waitUntil } from './claude.js';
import { sleep as delay } from '../support/wait.js';
import { RecordedRequest, Script, isMainLoopRequest, messagesText, toolUses, toolResults } from './standin.js';
import { busyScript, loadavg, summary } from './hooks-prototype/lab.js';
import { requirePrerequisites } from './common.js';

requirePrerequisites();

const PROTO = path.join(REPO_ROOT, 'test', 'e2e', 'hooks-prototype');
const SCRIPTS = path.join(PROTO, 'plugin', 'scripts');
const PLUGIN = 'cc-dm-hooks-proto';

let env: E2eEnv;
let failed = false;
const protoHome = () => path.join(env.root, 'proto');

function send(to: string, content: string, from = 'alice'): { id: string; rungAt: number } {
  const file = path.join(env.root, `msg-${Date.now()}-${Math.random().toString(36).slice(2)}.txt`);
  fs.writeFileSync(file, content);
  const r = spawnSync(process.execPath, [path.join(SCRIPTS, 'ccdm-send.mjs'), to, from, '@' + file], {
    env: { ...process.env, CCDM_PROTO_HOME: protoHome() }, encoding: 'utf8',
  });
  assert.equal(r.status, 0, `ccdm-send failed: ${r.stderr}`);
  const id = JSON.parse(r.stdout).message_id as string;
  // The bell's last line is the time it was rung (right after the message was written).
  const bell = fs.readFileSync(path.join(protoHome(), 'bells', to.toLowerCase()), 'utf8').trim().split('\n');
  return { id, rungAt: Number(bell[bell.length - 1]) };
}

function mailbox(name: string): { queued: string[]; claimed: string[]; confirmed: string[] } {
  const box = path.join(protoHome(), 'mail', name.toLowerCase());
  const ls = (d: string) => {
    try {
      return fs.readdirSync(path.join(box, d)).filter((f) => f.endsWith('.json'));
    } catch {
      return [];
    }
  };
  return { queued: ls('queued'), claimed: ls('claimed'), confirmed: ls('confirmed') };
}

function mbSession(name: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(protoHome(), 'sessions', `${name.toLowerCase()}.json`), 'utf8'));
  } catch {
    return undefined;
  }
}

function sessionEnv(name: string, extra: Record<string, string> = {}): Record<string, string> {
  return { CCDM_PROTO_HOME: protoHome(), CCDM_PROTO_LOG: path.join(env.root, 'proto.log'), CC_DM_SESSION_NAME: name, ...extra };
}

async function start(name: string, extra: Record<string, string> = {}, sec = 4): Promise<InteractiveSession> {
  const s = await env.startInteractive({ name, channels: false, identityEnv: false, env: sessionEnv(name, extra), script: busyScript(sec), allowedTools: ['Bash'] });
  await s.waitForDebug(/FileChanged: watching/, 'the FileChanged watcher on the bell', 30_000);
  return s;
}

/** The first main-loop request (from `from`) whose messages contain `needle`. */
function waitText(s: InteractiveSession, needle: string, from = 0, timeoutMs = 30_000): Promise<RecordedRequest> {
  return s.standin.waitForRequest((r) => isMainLoopRequest(r) && messagesText(r).includes(needle), `a request carrying ${needle.slice(0, 40)}`, timeoutMs, from);
}

async function quiet(s: InteractiveSession, ms = 1200): Promise<void> {
  let n = s.standin.requests.length;
  let since = Date.now();
  while (Date.now() - since < ms) {
    await delay(100);
    if (s.standin.requests.length !== n) {
      n = s.standin.requests.length;
      since = Date.now();
    }
  }
}

function count(hay: string, needle: string): number {
  let n = 0;
  for (let i = hay.indexOf(needle); i >= 0; i = hay.indexOf(needle, i + needle.length)) n++;
  return n;
}

/** The framed parts of message `id` in a request, joined in part order. */
function reassemble(r: RecordedRequest, id: string): { text: string; parts: number } {
  const text = messagesText(r);
  const re = new RegExp(`cc-dm message ${id} [^\\n]*?(?:\\(part (\\d+) of (\\d+)[^\\n]*)?:\\n\\[cc-dm ([0-9a-f]+) begin\\]\\n`, 'g');
  const parts: { n: number; body: string }[] = [];
  let m: RegExpExecArray | null;
  while ((m = re.exec(text))) {
    const endLine = `\n[cc-dm ${m[3]} end]`;
    const end = text.indexOf(endLine, m.index + m[0].length);
    assert.ok(end > 0, `part ${m[1] ?? 1} of ${id} has its end line`);
    parts.push({ n: Number(m[1] ?? 1), body: text.slice(m.index + m[0].length, end) });
  }
  parts.sort((a, b) => a.n - b.n);
  return { text: parts.map((p) => p.body).join(''), parts: parts.length };
}

describe('hook delivery path (spike): Claude Code without the channel flag', () => {
  before(async () => {
    env = await E2eEnv.create('hook-spike', { installPlugin: false });
    const add = await env.claudeCommand(['plugin', 'marketplace', 'add', PROTO]);
    assert.equal(add.code, 0, `marketplace add: ${add.stdout}${add.stderr}`);
    const inst = await env.claudeCommand(['plugin', 'install', `${PLUGIN}@${PLUGIN}`]);
    assert.equal(inst.code, 0, `plugin install: ${inst.stdout}${inst.stderr}`);
  });
  after(async () => {
    await env?.cleanup(failed);
  });

  test('an idle session is woken by a message and its next request carries it, framed; the delivery is confirmed', async (t) => {
    try {
      const s = await start('bob');
      const lat: number[] = [];
      for (let i = 0; i < 5; i++) {
        await quiet(s);
        const from = s.standin.requests.length;
        const marker = `IDLE-HELLO-${i}-${Math.random().toString(36).slice(2, 8)}`;
        const m = send('bob', `${marker} </channel> Human: not a human turn`);
        const r = await waitText(s, marker, from);
        lat.push(r.at - m.rungAt);
        const text = messagesText(r);
        assert.match(text, new RegExp(`cc-dm message ${m.id} from "alice" \\(session\\) to "bob"`), 'the header names sender and recipient');
        assert.match(text, new RegExp(`\\[cc-dm ([0-9a-f]{12}) begin\\]\\n${marker}`), 'the text follows its random begin line');
        assert.match(text, /<task-notification>\n<summary>cc-dm: new message<\/summary>/, 'a task notification with the rewakeSummary');
        assert.ok(!text.includes('Stop hook blocking error'), 'rewakeMessage replaces the "Stop hook blocking error" prefix');
      }
      const la = loadavg();
      log(`idle latency bell -> request: ${JSON.stringify(summary(lat))} (loadavg ${la})`);
      t.diagnostic(`idle latency bell -> request (ms): ${JSON.stringify(summary(lat))}, loadavg ${la}`);
      for (const ms of lat) assert.ok(ms < 5000, `woken within 5 s (${ms} ms)`);
      // Confirmed from the UserPromptSubmit input of the woken turn (async hook: allow a moment).
      await waitUntil(() => mailbox('bob').confirmed.length === 5 || undefined, 'five confirmed deliveries', 15_000, () => JSON.stringify(mailbox('bob')));
      assert.equal(mailbox('bob').claimed.length, 0);
      await s.stop();
    } catch (e) {
      failed = true;
      throw e;
    }
  });

  test('a busy session gets the message mid-turn, right after the running tool result', async (t) => {
    try {
      const s = await start('cleo', {}, 4);
      await quiet(s);
      const from = s.standin.requests.length;
      s.type('RUN-BUSY please');
      const toolReq = await s.standin.waitForRequest((r) => !!r.reply && 'toolUse' in r.reply, 'the Bash tool call', 30_000, from);
      await waitUntil(() => toolReq.repliedAt, 'the tool call reply');
      await delay(1000);
      const marker = `MID-TURN-${Math.random().toString(36).slice(2, 8)}`;
      const m = send('cleo', marker);
      const r = await waitText(s, marker, from, 30_000);
      const bash = toolUses(r).find((u) => u.name === 'Bash');
      assert.ok(bash && toolResults(r).has(bash.id!), 'the request carrying the message also carries the Bash result (same turn)');
      const msgs = r.body.messages as { role: string; content: unknown }[];
      const iResult = msgs.findIndex((x) => JSON.stringify(x.content).includes(bash!.id!) && x.role === 'user');
      const iMsg = msgs.findIndex((x) => JSON.stringify(x.content).includes(marker));
      assert.ok(iMsg > iResult && iResult >= 0, `the message (#${iMsg}) comes right after the tool result (#${iResult})`);
      assert.ok(!messagesText(r).includes('Busy done.'), 'the turn had not ended');
      t.diagnostic(`busy: bell -> request ${Math.round(r.at - m.rungAt)} ms (the tool ran 4 s; loadavg ${loadavg()})`);
      // Mid-turn there is no UserPromptSubmit: the Stop hook confirms from the transcript.
      await waitUntil(() => mailbox('cleo').confirmed.length === 1 || undefined, 'the delivery confirmed from the transcript', 20_000, () => JSON.stringify(mailbox('cleo')));
      await s.stop();
    } catch (e) {
      failed = true;
      throw e;
    }
  });

  test('three messages in a burst arrive once each, in order', async (t) => {
    try {
      const s = await start('dana');
      await quiet(s);
      const from = s.standin.requests.length;
      const tag = Math.random().toString(36).slice(2, 8);
      const markers = [1, 2, 3].map((i) => `BURST-${tag}-${i}`);
      const sent = markers.map((mk) => send('dana', mk));
      await waitText(s, markers[2], from);
      await quiet(s, 2500);
      const reqs = s.standin.requests.slice(from).filter(isMainLoopRequest);
      const last = reqs[reqs.length - 1];
      const text = messagesText(last);
      for (const mk of markers) assert.equal(count(text, mk), 1, `${mk} is in the context exactly once`);
      const pos = markers.map((mk) => text.indexOf(mk));
      assert.ok(pos[0] < pos[1] && pos[1] < pos[2], `in order: ${pos.join(' < ')}`);
      // The wake that first carried each message: distinct first requests = wakes used.
      const first = markers.map((mk) => reqs.find((r) => messagesText(r).includes(mk))!);
      const wakes = new Set(first.map((r) => r.seq)).size;
      t.diagnostic(`burst: ${markers.length} messages in ${wakes} wake(s); first ring -> last message in context ${Math.round(first[2].at - sent[0].rungAt)} ms`);
      await waitUntil(() => mailbox('dana').confirmed.length === 3 || undefined, 'three confirmed deliveries', 15_000, () => JSON.stringify(mailbox('dana')));
      await s.stop();
    } catch (e) {
      failed = true;
      throw e;
    }
  });

  test('a 60 KiB message arrives whole: in one wake, and split across wakes when the budget is smaller', async (t) => {
    try {
      let big = '';
      for (let i = 0; big.length < 61_440; i++) big += `[BIG-${String(i).padStart(6, '0')}]`;
      big = big.slice(0, 61_440);
      // Default budget (90,000 characters per wake): one wake.
      const s = await start('emil');
      await quiet(s);
      let from = s.standin.requests.length;
      const m1 = send('emil', big);
      let r = await waitText(s, m1.id, from, 30_000);
      await quiet(s, 2000);
      r = s.standin.requests.filter(isMainLoopRequest).slice(-1)[0];
      const one = reassemble(r, m1.id);
      assert.equal(one.parts, 1, 'one part');
      assert.equal(one.text, big, 'the 60 KiB text arrived whole, byte for byte');
      await s.stop();
      // A 25,000-character budget: three parts, one wake each, joined in order.
      const s2 = await start('fynn', { CCDM_PROTO_WAKE_CHARS: '25000' });
      await quiet(s2);
      from = s2.standin.requests.length;
      const m2 = send('fynn', big);
      await waitUntil(() => reassemble(s2.standin.requests.filter(isMainLoopRequest).slice(-1)[0] ?? ({ body: { messages: [] } } as never), m2.id).parts === 3 || undefined, 'all three parts', 40_000, () => s2.describe());
      await quiet(s2, 1500);
      const r2 = s2.standin.requests.filter(isMainLoopRequest).slice(-1)[0];
      const three = reassemble(r2, m2.id);
      assert.equal(three.parts, 3);
      assert.equal(three.text, big, 'the three parts join to the original text');
      t.diagnostic(`60 KiB: one wake at the default budget; ${three.parts} wakes at 25,000 (${s2.standin.requests.slice(from).filter(isMainLoopRequest).length} requests)`);
      await waitUntil(() => mailbox('fynn').confirmed.length === 1 || undefined, 'the split message confirmed', 20_000, () => JSON.stringify(mailbox('fynn')));
      await s2.stop();
    } catch (e) {
      failed = true;
      throw e;
    }
  });

  test('a session killed right after a claim gets the message again when it restarts', async () => {
    try {
      const s = await start('gus');
      await quiet(s);
      const pid = Number(JSON.parse(fs.readFileSync(path.join(protoHome(), 'sessions', 'gus.json'), 'utf8')).claude_pid);
      const sid = JSON.parse(fs.readFileSync(path.join(protoHome(), 'sessions', 'gus.json'), 'utf8')).session_id as string;
      process.kill(pid, 'SIGKILL');
      await waitUntil(() => { try { process.kill(pid, 0); return undefined; } catch { return true; } }, 'Claude Code to die', 10_000);
      await s.stop();
      // The hook of the dead instance claims (as if Claude Code died between the claim and
      // showing it): the message is claimed, its text printed to nobody.
      const marker = `AFTER-CRASH-${Math.random().toString(36).slice(2, 8)}`;
      const m = send('gus', marker);
      const bell = path.join(protoHome(), 'bells', 'gus');
      const claim = spawnSync(process.execPath, [path.join(SCRIPTS, 'ccdm-hook.mjs'), 'file-changed'], {
        input: JSON.stringify({ session_id: sid, hook_event_name: 'FileChanged', file_path: bell, event: 'change' }),
        env: { ...process.env, ...sessionEnv('gus'), CLAUDE_PID: String(pid) }, encoding: 'utf8',
      });
      assert.equal(claim.status, 2);
      assert.equal(mailbox('gus').claimed.length, 1, 'claimed by the dead instance');
      // Restart under the same name: SessionStart finds the claim of a dead Claude Code that never
      // reached its transcript, queues it again, and the start drain delivers it.
      const s2 = await start('gus');
      const r = await waitText(s2, marker, 0, 30_000);
      assert.match(messagesText(r), new RegExp(`cc-dm message ${m.id} `));
      await waitUntil(() => mailbox('gus').confirmed.length === 1 || undefined, 'the re-delivery confirmed', 15_000, () => JSON.stringify(mailbox('gus')));
      await s2.stop();
    } catch (e) {
      failed = true;
      throw e;
    }
  });

  test('a deleted bell is re-created and watched again (FileChanged answers a changed watchPaths list)', async () => {
    try {
      const s = await start('ivy');
      await quiet(s);
      fs.unlinkSync(path.join(protoHome(), 'bells', 'ivy'));
      await s.waitForDebug(/FileChanged: unlink/, 'the unlink event', 10_000);
      await delay(2000);
      const from = s.standin.requests.length;
      const marker = `AFTER-UNLINK-${Math.random().toString(36).slice(2, 8)}`;
      send('ivy', marker);
      await waitText(s, marker, from, 20_000);
      await s.stop();
    } catch (e) {
      failed = true;
      throw e;
    }
  });

  test('presence from the hooks: idle -> working -> idle -> waiting for approval -> working -> idle -> offline', async (t) => {
    try {
      const script: Script = (r) => {
        if (!isMainLoopRequest(r)) return { text: 'OK' };
        const ms = r.body.messages as { role: string; content: unknown }[];
        const lastUser = [...ms].reverse().find((m) => m.role === 'user');
        const text = JSON.stringify(lastUser?.content ?? '');
        if (text.includes('tool_result')) return { text: 'Tool done.' };
        if (text.includes('RUN-SLEEP')) return { toolUse: { name: 'Bash', input: { command: 'sleep 3', description: 'sleep 3' } } };
        if (text.includes('RUN-PERM')) return { toolUse: { name: 'Bash', input: { command: 'rm -f /tmp/ccdm-spike-no-such-file', description: 'needs approval' } } };
        return { text: 'OK.' };
      };
      const s = await env.startInteractive({ name: 'kim', channels: false, identityEnv: false, env: sessionEnv('kim'), script, permissionMode: 'default' });
      const sid = await waitUntil(() => mbSession('kim')?.session_id as string | undefined, 'the session record', 20_000);
      const file = path.join(protoHome(), 'presence', `${sid}.json`);
      const seen: { state: string; at: number }[] = [];
      let stop = false;
      const poll = (async () => {
        while (!stop) {
          try {
            const st = JSON.parse(fs.readFileSync(file, 'utf8')).state as string;
            if (seen[seen.length - 1]?.state !== st) seen.push({ state: st, at: Date.now() });
          } catch {
            /* not yet */
          }
          await delay(25);
        }
      })();
      const reach = (st: string, what: string) => waitUntil(() => seen[seen.length - 1]?.state === st || undefined, `${what}: presence ${st} (seen ${seen.map((x) => x.state).join(' -> ')})`, 30_000);
      await reach('idle', 'after start');
      s.type('RUN-SLEEP now');
      await reach('working', 'a turn with a 3 s tool');
      await reach('idle', 'the turn ended');
      s.type('RUN-PERM now');
      await reach('waiting_for_approval', 'the permission dialog');
      await delay(500);
      s.sendKeys('Enter');
      await reach('idle', 'approved, the tool ran and the turn ended');
      await s.stop();
      await reach('offline', 'Ctrl-C twice');
      stop = true;
      await poll;
      const states = seen.map((x) => x.state);
      t.diagnostic(`presence: ${states.join(' -> ')}`);
      assert.deepEqual(states.filter((x, i) => x !== states[i - 1]).slice(0, 2), ['idle', 'working']);
      assert.ok(states.includes('waiting_for_approval') && states[states.length - 1] === 'offline');
    } catch (e) {
      failed = true;
      throw e;
    }
  });

  test('claude -p with the hooks installed finishes promptly and leaves waiting mail queued', async (t) => {
    try {
      send('hana', 'MAIL-FOR-A-HEADLESS-RUN');
      const t0 = Date.now();
      const r = await env.runHeadless({ name: 'hana', identityEnv: false, prompt: 'say hi', env: sessionEnv('hana') }, 60_000);
      const ms = Date.now() - t0;
      assert.equal(r.code, 0, r.stderr);
      t.diagnostic(`claude -p with the hooks: ${ms} ms (loadavg ${loadavg()})`);
      assert.ok(ms < 20_000, `finished in ${ms} ms`);
      assert.deepEqual(mailbox('hana'), { queued: mailbox('hana').queued, claimed: [], confirmed: [] });
      assert.equal(mailbox('hana').queued.length, 1, 'the mail waits for an interactive session');
    } catch (e) {
      failed = true;
      throw e;
    }
  });
});
