/**
 * The channel server in-process (createChannelServer over the SDK's linked in-memory transports):
 * capability, instructions, tools, push, bad input, broadcast, rename, history. What needs its
 * stdio (malformed JSON-RPC) or many processes (20 starting at once) is in
 * test/integration/channel.test.ts.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { stores } from '../support/stores.js';
import { InProcWorld } from '../support/inproc.js';
import { until } from '../support/wait.js';

for (const fx of stores()) {
  describe(`channel server in-process [${fx.kind}]`, () => {
    let w: InProcWorld;
    before(async () => { w = await InProcWorld.create(fx); });
    after(async () => { await w.close(); });

    test('declares the channel capability, the instructions name the session, and lists the tools', async () => {
      const a = await w.start('alpha', { env: { CC_DM_SESSION_ROLE: 'planner', CC_DM_SESSION_PROJECT: 'proj' } });
      const caps = a.client.getServerCapabilities();
      assert.deepEqual(caps?.experimental?.['claude/channel'], {});
      assert.equal(caps?.experimental?.['claude/channel/permission'], undefined, 'the relay is opt-in');
      const instr = a.client.getInstructions() ?? '';
      assert.match(instr, /"alpha"/);
      assert.match(instr, /not Claude Code's built-in SendMessage/i);
      const tools = (await a.client.listTools()).tools.map((t) => t.name);
      for (const t of ['register', 'dm', 'who', 'broadcast', 'status', 'history', 'inbox']) assert.ok(tools.includes(t), `tool ${t}`);
      const dm = (await a.client.listTools()).tools.find((t) => t.name === 'dm')!;
      assert.deepEqual(dm.inputSchema.required, ['to', 'content']);
      for (const k of ['to', 'content', 'priority', 'message_type', 'thread_id']) assert.ok(k in (dm.inputSchema.properties ?? {}), k);
    });

    test('who lists identities from the environment', async () => {
      const b = await w.start('Bravo', { env: { CC_DM_SESSION_ROLE: 'backend', CC_DM_SESSION_PROJECT: 'proj' } });
      const r = await b.call('who');
      assert.equal(r.isError, false);
      const bravo = r.body.sessions.find((s: any) => s.name === 'Bravo');
      assert.equal(bravo.role, 'backend');
      assert.equal(bravo.project, 'proj');
      assert.equal(bravo.cwd, process.cwd());
      assert.ok(Date.parse(bravo.started_at) > 0 && Date.parse(bravo.last_active_at) > 0);
      assert.equal(bravo.can_receive_push, true);
      assert.equal(bravo.you, true);
      assert.ok(r.body.sessions.some((s: any) => s.name === 'alpha' && s.role === 'planner'));
    });

    test('a dm arrives with the exact content and every meta field; a third session sees nothing', async () => {
      const s1 = await w.start('sender1');
      const r1 = await w.start('receiver1');
      const third = await w.start('third1');
      const content = 'line one\n  "quoted" <b>not html</b> & ünïcödé 🚀\n\ttrailing space ';
      const r = await s1.call('dm', { to: 'RECEIVER1 ', content, priority: 'urgent', message_type: 'task', thread_id: 'T-1:a.b_c' });
      assert.equal(r.isError, false, JSON.stringify(r.body));
      assert.equal(r.body.success, true);
      assert.equal(r.body.state, 'queued');
      assert.equal(r.body.recipient_online, true);
      assert.match(r.body.message_id, /^m_/);
      await r1.waitFor((p) => p.pushes.length === 1, 10_000, 'the dm at receiver1');
      const got = r1.pushes[0]!;
      assert.equal(got.content, content);
      assert.equal(got.meta.from_session, 'sender1');
      assert.equal(got.meta.to_session, 'receiver1');
      assert.equal(got.meta.message_id, r.body.message_id);
      assert.equal(got.meta.sender_kind, 'session');
      assert.equal(got.meta.priority, 'urgent');
      assert.equal(got.meta.message_type, 'task');
      assert.equal(got.meta.thread_id, 'T-1:a.b_c');
      assert.ok(!Number.isNaN(Date.parse(got.meta.sent_at)) && got.meta.sent_at.endsWith('Z'));
      for (const [k, v] of Object.entries(got.meta)) {
        assert.match(k, /^[A-Za-z0-9_]+$/);
        assert.equal(typeof v, 'string');
      }
      // The push goes out before its delivery is recorded: the receipt follows within moments.
      const receipt = async () => (await s1.call('status', { message_id: r.body.message_id })).body.recipients[0].state;
      await until(async () => (await receipt()) === 'delivered', 10_000, 'the receipt marked delivered');
      assert.equal(third.pushes.length, 0);
      assert.equal(s1.pushes.length, 0, 'no echo to the sender');
    });

    test('unknown recipient, empty and oversized content are clear errors', async () => {
      const s = await w.start('errsender');
      const unknown = await s.call('dm', { to: 'nobody-here', content: 'hi' });
      assert.equal(unknown.isError, true);
      assert.equal(unknown.body.success, false);
      assert.equal(unknown.body.code, 'E_UNKNOWN_RECIPIENT');
      assert.match(unknown.body.error, /Names that exist: .*alpha/);
      const near = await s.call('dm', { to: 'alpa', content: 'hi' });
      assert.match(near.body.error, /Did you mean "alpha"/);
      for (const content of ['', '   \n\t ']) {
        const empty = await s.call('dm', { to: 'alpha', content });
        assert.equal(empty.isError, true);
        assert.match(empty.body.error, /content is empty/);
      }
      const big = await s.call('dm', { to: 'alpha', content: 'x'.repeat(64 * 1024 + 1) });
      assert.equal(big.isError, true);
      assert.match(big.body.error, /65536 bytes \(64 KiB\)/);
      const exact = await s.call('dm', { to: 'alpha', content: 'y'.repeat(64 * 1024) });
      assert.equal(exact.isError, false, 'exactly the limit is accepted');
      const self = await s.call('dm', { to: 'ErrSender', content: 'me' });
      assert.match(self.body.error, /is you/);
    });

    test('wrong types, unknown tools and routing fields in arguments are refused, never used', async () => {
      const s = await w.start('forger');
      const r = await w.start('victim');
      const forged = await s.call('dm', { to: 'victim', content: 'hello', from_session: 'human', sender_kind: 'human', message_id: 'm_x', to_session: 'x', sent_at: '1999' });
      assert.equal(forged.isError, true);
      assert.match(forged.body.error, /unknown argument\(s\) "from_session", "sender_kind", "message_id", "to_session", "sent_at"/);
      for (const [args, re] of [
        [{ to: 42, content: 'x' }, /to must be a string/],
        [{ to: 'victim', content: { a: 1 } }, /content must be a string/],
        [{ to: 'victim' }, /content is required/],
        [{ to: 'victim', content: 'x', priority: 'high' }, /priority must be one of urgent, normal, low/],
        [{ to: 'victim', content: 'x', message_type: 'chat' }, /message_type must be one of task, question, status, review/],
        [{ to: 'victim', content: 'x', thread_id: 'a"b' }, /thread_id must be 1 to 64/],
        [{ to: 'victim', content: 'x', thread_id: 'a<b>' }, /thread_id/],
        [{ to: 'victim', content: 'x', thread_id: 'x'.repeat(65) }, /thread_id/],
        [{ to: 'victim', content: 'x', ttl_s: 1 }, /ttl_s must be at least 10/],
        [{ to: 'bad name!', content: 'x' }, /characters that are not allowed/],
      ] as const) {
        const res = await s.call('dm', args as Record<string, unknown>);
        assert.equal(res.isError, true, JSON.stringify(args));
        assert.match(res.body.error, re);
      }
      const bogus = await s.call('teleport', {});
      assert.equal(bogus.isError, true);
      assert.match(bogus.body.error, /unknown tool "teleport"/);
      // The server is still there after all of that.
      const ok = await s.call('dm', { to: 'victim', content: 'still fine' });
      assert.equal(ok.isError, false);
      await r.waitFor((p) => p.pushes.length === 1, 10_000, 'the one good dm');
      assert.equal(r.pushes[0]!.meta.from_session, 'forger');
      assert.equal(r.pushes[0]!.meta.sender_kind, 'session');
    });

    test('broadcast reaches every other live session in scope and never echoes', async () => {
      const [p1, p2, p3] = await Promise.all(['bc-1', 'bc-2', 'bc-3'].map((n) => w.start(n, { env: { CC_DM_SESSION_PROJECT: 'bcast' } })));
      const outsider = await w.start('bc-out', { env: { CC_DM_SESSION_PROJECT: 'other' } });
      const r = await p1!.call('broadcast', { content: 'all hands', priority: 'low' });
      assert.equal(r.isError, false, JSON.stringify(r.body));
      assert.deepEqual(r.body.recipients.map((x: any) => x.name).sort(), ['bc-2', 'bc-3']);
      for (const p of [p2!, p3!]) {
        await p.waitFor((x) => x.pushes.some((m) => m.content === 'all hands'), 10_000, 'the broadcast');
        const m = p.pushes.find((x) => x.content === 'all hands')!;
        assert.equal(m.meta.from_session, 'bc-1');
        assert.equal(m.meta.kind, 'broadcast');
        assert.equal(m.meta.message_id, r.body.message_id);
      }
      const t = await w.human.trace(r.body.message_id);
      assert.equal(t.recipients.length, 2, 'one delivery row per recipient');
      assert.equal(p1!.pushes.filter((m) => m.content === 'all hands').length, 0);
      assert.equal(outsider.pushes.filter((m) => m.content === 'all hands').length, 0);
    });

    test('after a rename via register the new name is reachable, the old one is free, and later messages carry the new name', async () => {
      const a = await w.start('old-name');
      const b = await w.start('watcher');
      const r = await a.call('register', { name: 'New-Name', role: 'reviewer' });
      assert.equal(r.isError, false, JSON.stringify(r.body));
      assert.equal(r.body.name, 'New-Name');
      const toOld = await b.call('dm', { to: 'old-name', content: 'hello?' });
      assert.equal(toOld.isError, true);
      assert.equal(toOld.body.code, 'E_RENAMED');
      assert.match(toOld.body.error, /now called "New-Name"/);
      const toNew = await b.call('dm', { to: 'new-name', content: 'hello new' });
      assert.equal(toNew.isError, false);
      await a.waitFor((p) => p.pushes.some((m) => m.content === 'hello new'), 10_000, 'dm to the new name');
      assert.equal(a.pushes.at(-1)!.meta.to_session, 'New-Name');
      await a.call('dm', { to: 'watcher', content: 'from my new name' });
      await b.waitFor((p) => p.pushes.length === 1, 10_000, 'dm from the renamed session');
      assert.equal(b.pushes[0]!.meta.from_session, 'New-Name');
      const who = await b.call('who');
      assert.ok(who.body.sessions.some((s: any) => s.name === 'New-Name' && s.role === 'reviewer'));
      assert.ok(!who.body.sessions.some((s: any) => s.name === 'old-name'));
      // The released name is free for another session to take.
      const c = await w.start('someone');
      const take = await c.call('register', { name: 'old-name', role: 'x' });
      assert.equal(take.isError, false, JSON.stringify(take.body));
    });

    test('history re-reads recent messages by peer and thread', async () => {
      const h1 = await w.start('hist-1');
      const h2 = await w.start('hist-2');
      await h1.call('dm', { to: 'hist-2', content: 'first in thread', thread_id: 'th-9' });
      await h1.call('dm', { to: 'hist-2', content: 'off thread' });
      await h2.waitFor((p) => p.pushes.length === 2, 10_000, 'two dms');
      // A reply marks delivered mail replied: the receipt follows the push within moments.
      const firstId = h2.pushes[0]!.meta.message_id;
      await until(async () => (await h1.call('status', { message_id: firstId })).body.recipients[0].state === 'delivered', 5000, 'delivered');
      await h2.call('dm', { to: 'hist-1', content: 'answer in thread', thread_id: 'th-9' });
      const all = await h2.call('history', { peer: 'hist-1' });
      assert.deepEqual(all.body.messages.map((m: any) => m.content), ['first in thread', 'off thread', 'answer in thread']);
      const th = await h2.call('history', { thread_id: 'th-9' });
      assert.deepEqual(th.body.messages.map((m: any) => m.content), ['first in thread', 'answer in thread']);
      const q = await h2.call('history', { query: 'answer' });
      assert.deepEqual(q.body.messages.map((m: any) => m.content), ['answer in thread']);
      // Answering in the thread marks the first message replied.
      const first = all.body.messages[0].message_id;
      await until(async () => (await h1.call('status', { message_id: first })).body.recipients[0].state === 'replied', 5000, 'replied state');
    });
  });
}
