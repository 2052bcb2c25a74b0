/** The CLI's read commands (issue 6): who, log and search with their filters, trace, tail -f, prune; --json shapes. */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { stores } from '../support/stores.js';
import { World } from '../support/world.js';
import { until } from '../support/wait.js';
import type { Peer } from '../../src/channel/peer.js';

for (const fx of stores()) {
  describe(`cli read commands [${fx.kind}]`, () => {
    let w: World;
    let ann: Peer, ben: Peer, cal: Peer;
    const ids: Record<string, string> = {};
    let t0 = 0;

    before(async () => {
      w = await World.create(fx);
      ann = await w.start('ann', { env: { CC_DM_SESSION_ROLE: 'planner', CC_DM_SESSION_PROJECT: 'web' } });
      ben = await w.start('ben', { env: { CC_DM_SESSION_ROLE: 'builder', CC_DM_SESSION_PROJECT: 'web' } });
      cal = await w.start('cal', { env: { CC_DM_SESSION_ROLE: 'tester' } });
      t0 = Date.now();
      const send = async (p: Peer, key: string, args: Record<string, unknown>) => {
        const r = await p.call('dm', args);
        assert.equal(r.isError, false, JSON.stringify(r.body));
        ids[key] = r.body.message_id;
      };
      await send(ann, 'task', { to: 'ben', content: 'build the login form with a password meter', thread_id: 'login' });
      // Ben answers what he has received, as a model does: a reply marks only delivered mail replied.
      await ben.waitFor((p) => p.pushes.length === 1, 10_000, 'ben\'s mail');
      await until(() => w.cli(['trace', ids.task!, '--json']).json.recipients[0].state === 'delivered', 10_000, 'the task marked delivered');
      await send(ben, 'reply', { to: 'ann', content: 'login form done; meter uses zxcvbn', thread_id: 'login' });
      await send(cal, 'other', { to: 'ann', content: 'flaky test in checkout suite' });
      await ann.waitFor((p) => p.pushes.length === 2, 10_000, 'ann\'s mail');
    });
    after(async () => { await w.close(); });

    test('who --json lists live sessions with their state', () => {
      const r = w.cli(['who', '--json']);
      assert.equal(r.code, 0, r.stderr);
      const ann = r.json.find((s: any) => s.name === 'ann');
      assert.equal(r.json.length, 3);
      for (const k of ['name', 'role', 'project', 'cwd', 'host', 'pid', 'started_at', 'last_active_at', 'can_receive_push', 'pending']) assert.ok(k in ann, `who --json has ${k}`);
      assert.equal(ann.role, 'planner');
      assert.equal(ann.project, 'web');
      assert.equal(ann.can_receive_push, true);
      assert.equal(ann.pending, 0);
      const text = w.cli(['who']);
      assert.match(text.stdout, /^name\s+role\s+project/m);
      assert.match(text.stdout, /^ann\s+planner\s+web/m);
    });

    test('log --json: all history, oldest first, with content and per-recipient state', () => {
      const r = w.cli(['log', '--json']);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.json.map((m: any) => m.message_id), [ids.task, ids.reply, ids.other]);
      const m = r.json[0];
      assert.equal(m.from, 'ann');
      assert.equal(m.sender_kind, 'session');
      assert.equal(m.thread_id, 'login');
      assert.equal(m.content, 'build the login form with a password meter');
      assert.equal(m.recipients[0].to, 'ben');
      assert.equal(m.recipients[0].state, 'replied', 'ben answered in the thread');
      assert.ok(m.recipients[0].delivered_at);
    });

    test('log filters: --peer, --with, --thread, --project, --since/--until, -n', () => {
      const idsOf = (args: string[]) => {
        const r = w.cli(['log', ...args, '--json']);
        assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
        return r.json.map((m: any) => m.message_id);
      };
      assert.deepEqual(idsOf(['--peer', 'ben']), [ids.task, ids.reply]);
      assert.deepEqual(idsOf(['--peer', 'ANN', '--with', 'cal']), [ids.other], 'names are case-insensitive');
      assert.deepEqual(idsOf(['--thread', 'login']), [ids.task, ids.reply]);
      assert.deepEqual(idsOf(['--project', 'web']), [ids.task, ids.reply]);
      assert.deepEqual(idsOf(['--since', new Date(t0 - 1000).toISOString()]), [ids.task, ids.reply, ids.other]);
      assert.deepEqual(idsOf(['--since', '1h']), [ids.task, ids.reply, ids.other]);
      assert.deepEqual(idsOf(['--until', new Date(t0 - 60_000).toISOString()]), []);
      assert.deepEqual(idsOf(['-n', '2']), [ids.reply, ids.other], 'the newest n');
      const text = w.cli(['log', '--thread', 'login']);
      assert.match(text.stdout, /ann -> ben \[replied\] m_\S+ #login\n    build the login form/);
      assert.match(w.cli(['log', '--thread', 'nothing-here']).stdout, /\(no messages\)/);
    });

    test('search: full text over all history, with the same filters', () => {
      const r = w.cli(['search', 'login', '--json']);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.json.map((m: any) => m.message_id).sort(), [ids.task, ids.reply].sort());
      assert.deepEqual(w.cli(['search', 'zxcvbn', '--json']).json.map((m: any) => m.message_id), [ids.reply]);
      assert.deepEqual(w.cli(['search', 'flaky', 'checkout', '--json']).json.map((m: any) => m.message_id), [ids.other]);
      assert.deepEqual(w.cli(['search', 'login', '--peer', 'cal', '--json']).json, []);
      assert.deepEqual(w.cli(['search', 'nothing', 'matches', 'this', '--json']).json, []);
    });

    test('trace --json: per recipient, its state and times', () => {
      const r = w.cli(['trace', ids.task!, '--json']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.json.message_id, ids.task);
      assert.equal(r.json.from, 'ann');
      assert.equal(r.json.kind, 'dm');
      const [d] = r.json.recipients;
      assert.equal(d.to, 'ben');
      assert.equal(d.state, 'replied');
      assert.equal(d.delivered_via, 'push');
      for (const k of ['queued_at', 'delivered_at', 'replied_at']) assert.ok(!Number.isNaN(Date.parse(d[k])), `${k} is an ISO time`);
      const text = w.cli(['trace', ids.task!]);
      assert.match(text.stdout, new RegExp(`^${ids.task} from ann \\(session\\)`));
      assert.match(text.stdout, /^ben\s+replied/m);
    });

    test('tail prints recent messages; tail -f follows new ones as JSON lines', async () => {
      const recent = w.cli(['tail', '-n', '2', '--json']);
      assert.equal(recent.code, 0);
      assert.deepEqual(recent.stdout.trim().split('\n').map((l) => JSON.parse(l).message_id), [ids.reply, ids.other]);
      const thread = w.cli(['tail', '--thread', 'login', '--json']);
      assert.deepEqual(thread.stdout.trim().split('\n').map((l) => JSON.parse(l).message_id), [ids.task, ids.reply]);
      assert.deepEqual(w.cli(['tail', '--peer', 'cal', '--json']).stdout.trim().split('\n').map((l) => JSON.parse(l).message_id), [ids.other]);
      const child = w.cliAsync(['tail', '-f', '-n', '1', '--json']);
      let out = '';
      child.stdout.on('data', (d) => { out += String(d); });
      try {
        // The last message of history, printed first, shows tail -f has read where history ends.
        await until(() => out.includes(ids.other!), 10_000, 'tail -f to print the last message');
        const r = await ann.call('dm', { to: 'cal', content: 'tail me' });
        await until(() => out.includes('tail me'), 10_000, 'tail -f to print the new message');
        const line = JSON.parse(out.trim().split('\n').find((l) => l.includes('tail me'))!);
        assert.equal(line.message_id, r.body.message_id);
        assert.equal(line.from, 'ann');
        assert.ok(!out.includes(ids.reply!), '-n 1 prints one message of history');
      } finally {
        child.kill('SIGTERM');
      }
    });

    test('who --all shows mailboxes of sessions that are down, with mail waiting', async () => {
      await cal.close();
      const r = await ann.call('dm', { to: 'cal', content: 'waiting for cal' });
      assert.equal(r.body.recipient_online, false);
      const all = w.cli(['who', '--all', '--json']);
      assert.equal(all.code, 0, all.stderr);
      const c = all.json.find((s: any) => s.name === 'cal');
      assert.equal(c.live, false);
      assert.ok(c.pending >= 1);
      assert.equal(w.cli(['who', '--json']).json.some((s: any) => s.name === 'cal'), false, 'who alone lists live sessions only');
    });

    test('prune --json reports what it removed and keeps mail still waiting', () => {
      const r = w.cli(['prune', '--older-than', '0', '--json']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(typeof r.json.messages, 'number');
      assert.equal(typeof r.json.sessions, 'number');
      assert.equal(typeof r.json.expired, 'number');
      assert.equal(r.json.older_than_days, 0);
      const left = w.cli(['log', '--json']).json;
      assert.ok(left.some((m: any) => m.content === 'waiting for cal'), 'queued mail is kept');
      assert.ok(!left.some((m: any) => m.content === 'flaky test in checkout suite'), 'delivered mail is pruned');
      assert.match(w.cli(['prune']).stdout, /^pruned \d+ message\(s\)/);
    });
  });
}
