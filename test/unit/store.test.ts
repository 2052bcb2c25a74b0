/** The store contract, run against every backend through the Store interface alone. */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sqlite as sqliteFixture, stores } from '../support/stores.js';
import { loadConfig } from '../../src/config.js';
import { openStore } from '../../src/store/open.js';
import { claimPlan, claimRules, type ClaimRequest } from '../../src/bus/claim.js';
import type { HistoryFilter, NameSource, NewMessage, NewSession, Recipient, Store } from '../../src/store/types.js';

const newSession = (id: string, over: Partial<NewSession> = {}): NewSession => ({
  id, role: null, project: null, cwd: '/', host: 'h', pid: process.pid, ppid: process.ppid, pid_start: null, ppid_start: null,
  can_push: true, client: null, doorbell: null, started_at: Date.now(), last_active_at: Date.now(), heartbeat_at: Date.now(), machine: null, heartbeat_expiry_ms: null, agent: null, agent_pid: null, path: null, ...over,
});
let n = 0;
const msg = (from: string, over: Partial<NewMessage> = {}): NewMessage => {
  const now = Date.now();
  return {
    id: `m_test${++n}`, kind: 'dm', from_name: from, from_key: from, from_session: null, sender_kind: 'session', to_name: null,
    project: null, content: `content ${n}`, priority: null, message_type: null, thread_id: null, sent_at: now, expires_at: now + 60_000, ...over,
  };
};
const alive = () => true;
/** A claim as the bus makes it: the claim plan with the rules of its source, in one store transaction. */
const claim = (store: Store, req: Omit<ClaimRequest, 'at'>, rules: NameSource = req.source) =>
  store.claim(() => claimPlan({ ...req, at: Date.now() }, claimRules(rules), alive));
const insertOne = async (store: Store, m: NewMessage, recipients: Recipient[]) => (await store.insertMessages([{ message: m, recipients }]))[0]!;

for (const fx of stores()) {
  describe(`store contract [${fx.kind}]`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    let env: Record<string, string>;
    before(async () => {
      const f = await fx.fresh();
      cleanup = f.cleanup;
      env = f.env;
      store = await openStore(loadConfig(env));
    });
    after(async () => { await store.close(); await cleanup(); });

    test('migrations are versioned and idempotent', async () => {
      const v = await store.schemaVersion();
      assert.ok(v >= 1);
      const again = await openStore(loadConfig(env));
      assert.equal(await again.schemaVersion(), v);
      await again.close();
    });

    test('claims: one holder per name; a variant for the second; a refused rename changes nothing', async () => {
      const [a, b] = await Promise.all([
        claim(store, { sessionId: 'sa', name: 'Claimed', source: 'env', newSession: newSession('sa') }),
        claim(store, { sessionId: 'sb', name: 'claimed', source: 'env', newSession: newSession('sb') }),
      ]);
      assert.ok(a.ok && b.ok);
      const names = [a.session.name_key, b.session.name_key].sort();
      assert.deepEqual(names, ['claimed', 'claimed-2']);
      const r = await claim(store, { sessionId: 'sb', name: 'claimed', source: 'register', releasing: 'claimed-2' });
      assert.equal(r.ok, false);
      assert.equal((await store.getSession('sb'))!.name_key, b.session.name_key);
    });

    test('deliveries: pending in order, marked once, counted, expired only when due', async () => {
      const now = Date.now();
      const m1 = await insertOne(store, msg('x'), [{ key: 'rcv', display: 'rcv' }]);
      const m2 = await insertOne(store, msg('x'), [{ key: 'rcv', display: 'rcv' }]);
      const old = await insertOne(store, msg('x', { sent_at: now - 20_000, expires_at: now - 10_000 }), [{ key: 'rcv', display: 'rcv' }]);
      const pending = await store.pendingFor('rcv', 'sa', 10, now);
      assert.deepEqual(pending.map((p) => p.message.id), [m1.id, m2.id], 'expired mail is never pending');
      assert.equal(await store.countPending('rcv', now), 2);
      assert.equal(await store.markDelivered(m1.seq, 'rcv', 'sa', 'push', now), true);
      assert.equal(await store.markDelivered(m1.seq, 'rcv', 'sa', 'push', now), false, 'a delivery is marked once');
      assert.equal(await store.markDelivered(m2.seq, 'rcv', 'no-such-session', 'push', now), false, 'only an open session claims');
      assert.equal(await store.expireDue(now), 1);
      const t = await store.trace(old.id);
      assert.equal(t!.deliveries[0]!.state, 'expired');
      assert.equal((await store.trace(m2.id))!.deliveries[0]!.state, 'queued');
      assert.equal((await store.trace(m1.id))!.deliveries[0]!.delivered_via, 'push');
      assert.equal(await store.hasWritten('x', 'rcv'), true);
      assert.equal(await store.hasWritten('rcv', 'x'), false);
    });

    test('a batch of messages is stored in order, in one transaction: all or none', async () => {
      const batch = [msg('gx'), msg('gx'), msg('gx')].map((message) => ({ message, recipients: [{ key: 'grcv', display: 'grcv' }] }));
      const rows = await store.insertMessages(batch);
      assert.deepEqual(rows.map((r) => r.id), batch.map((b) => b.message.id));
      assert.ok(rows[0]!.seq < rows[1]!.seq && rows[1]!.seq < rows[2]!.seq, 'sequence numbers follow the batch order');
      assert.deepEqual((await store.pendingFor('grcv', 'sa', 10, Date.now())).map((p) => p.message.id), rows.map((r) => r.id));
      // Limits of different sizes each take their own statement (SQLite writes them into its text).
      assert.deepEqual((await store.pendingFor('grcv', 'sa', 2, Date.now())).map((p) => p.message.id), rows.slice(0, 2).map((r) => r.id));
      assert.deepEqual((await store.pendingFor('grcv', 'sa', 1, Date.now())).map((p) => p.message.id), [rows[0]!.id]);
      assert.ok((await store.lookup('grcv')).name, 'mail for a new name makes it a mailbox');

      // The third repeats the first one's id: the whole batch is refused, nothing of it stays.
      const fresh = [msg('gx'), msg('gx')];
      await assert.rejects(store.insertMessages([...fresh, batch[0]!.message].map((message) => ({ message, recipients: [{ key: 'grcv', display: 'grcv' }] }))));
      for (const m of fresh) assert.equal(await store.trace(m.id), undefined, 'nothing of a failed batch is stored');

      // A reply in a batch marks what its recipient had delivered, as a reply alone would.
      assert.ok(await store.markDelivered(rows[0]!.seq, 'grcv', 'sa', 'push', Date.now()));
      await store.insertMessages([
        { message: msg('grcv'), recipients: [{ key: 'gx', display: 'gx' }], reply: { recipientKey: 'grcv', senderKey: 'gx', thread_id: null, since: null } },
      ]);
      assert.equal((await store.trace(rows[0]!.id))!.deliveries[0]!.state, 'replied');
      assert.equal((await store.trace(rows[1]!.id))!.deliveries[0]!.state, 'queued');
    });

    test('a reply marks exactly what its sender had delivered from the one it answers, whichever side is larger', async () => {
      const to = (key: string) => [{ key, display: key }];
      const deliveredTo = async (from: string, recipient: string, n: number, over: Partial<NewMessage> = {}) => {
        const rows = await store.insertMessages(Array.from({ length: n }, () => ({ message: msg(from, over), recipients: to(recipient) })));
        for (const r of rows) assert.ok(await store.markDelivered(r.seq, recipient, 'sa', 'push', Date.now()));
        return rows;
      };
      const reply = (from: string, answering: string, thread_id: string | null = null) =>
        store.insertMessages([{ message: msg(from, { thread_id }), recipients: to(answering), reply: { recipientKey: from, senderKey: answering, thread_id, since: null } }]);
      const states = async (rows: { id: string }[]) => Promise.all(rows.map(async (r) => (await store.trace(r.id))!.deliveries[0]!.state));

      // The replier holds little, the other has sent much (more than the stores count up to).
      await store.insertMessages(Array.from({ length: 1_001 }, () => ({ message: msg('rp-busy'), recipients: to('rp-elsewhere') })));
      const fromBusy = await deliveredTo('rp-busy', 'rp-a', 2);
      const fromOther = await deliveredTo('rp-other', 'rp-a', 1);
      await reply('rp-a', 'rp-busy');
      assert.deepEqual(await states(fromBusy), ['replied', 'replied']);
      assert.deepEqual(await states(fromOther), ['delivered'], "another sender's mail stays unanswered");

      // The replier holds much (unanswered mail from someone else), the other has sent little.
      const fromChatty = await deliveredTo('rp-chatty', 'rp-b', 1_001);
      const fromQuiet = await deliveredTo('rp-quiet', 'rp-b', 2);
      const inThread = await deliveredTo('rp-quiet', 'rp-b', 1, { thread_id: 't-rp' });
      await reply('rp-b', 'rp-quiet', 't-rp');
      assert.deepEqual(await states([...fromQuiet, ...inThread]), ['delivered', 'delivered', 'replied'], 'a reply in a thread marks that thread only');
      await reply('rp-b', 'rp-quiet');
      assert.deepEqual(await states(fromQuiet), ['replied', 'replied']);
      assert.deepEqual(new Set(await states(fromChatty)), new Set(['delivered']), "another sender's mail stays unanswered");
    });

    test('lookup reads a name and its open holder together, row for row as the other reads', async () => {
      const claimed = await claim(store, { sessionId: 'sl', name: 'Looked-Up', source: 'env', newSession: newSession('sl', { role: 'r' }) });
      assert.ok(claimed.ok);
      const found = await store.lookup('looked-up');
      assert.deepEqual(found.holder, await store.getSession('sl'), 'the same session row as getSession gives');
      assert.deepEqual(found.name, (await store.listNames()).find((n) => n.key === 'looked-up'), 'the same name row as listNames gives');
      assert.equal(typeof found.holder!.started_at, 'number');
      assert.equal(found.holder!.can_push, true);
      await store.endSession('sl', 'test', Date.now());
      const after = await store.lookup('looked-up');
      assert.equal(after.holder, undefined, 'an ended session holds nothing');
      assert.equal(after.name!.display, 'Looked-Up', 'the name stays, as a mailbox');
      assert.deepEqual(await store.lookup('never-seen'), { name: undefined, holder: undefined });
    });

    test('a rename releases the old name and its queued mail follows', async () => {
      await claim(store, { sessionId: 'sr', name: 'before', source: 'env', newSession: newSession('sr') });
      const m = await insertOne(store, msg('y'), [{ key: 'before', display: 'before' }]);
      const r = await claim(store, { sessionId: 'sr', name: 'after', source: 'register', releasing: 'before' });
      assert.ok(r.ok);
      assert.equal((await store.lookup('before')).name!.released_to, 'after');
      assert.deepEqual((await store.pendingFor('after', 'sr', 10, Date.now())).map((p) => p.message.id), [m.id]);
      await store.endSession('sr', 'test', Date.now());
      assert.deepEqual(await store.pendingFor('after', 'sr', 10, Date.now()), [], 'an ended session is handed nothing');
    });

    test('history filters by participant, peer, thread, words and position', async () => {
      const a = await insertOne(store, msg('ha', { content: 'alpha bravo', thread_id: 'th' }), [{ key: 'hb', display: 'hb' }]);
      await insertOne(store, msg('hb', { content: 'charlie delta' }), [{ key: 'ha', display: 'ha' }]);
      await insertOne(store, msg('hc', { content: 'bravo echo' }), [{ key: 'hd', display: 'hd' }]);
      const content = (ts: { message: { content: string } }[]) => ts.map((t) => t.message.content);
      assert.deepEqual(content(await store.history({ participant: 'ha', limit: 10 })), ['alpha bravo', 'charlie delta']);
      assert.deepEqual(content(await store.history({ participant: 'ha', peer: 'hb', limit: 10 })), ['alpha bravo', 'charlie delta']);
      assert.deepEqual(content(await store.history({ participant: 'hc', peer: 'ha', limit: 10 })), []);
      assert.deepEqual(content(await store.history({ thread_id: 'th', limit: 10 })), ['alpha bravo']);
      assert.deepEqual(content(await store.history({ query: 'bravo', limit: 10 })), ['alpha bravo', 'bravo echo']);
      assert.deepEqual(content(await store.history({ query: 'brav', limit: 10 })), ['alpha bravo', 'bravo echo'], 'words match as prefixes');
      assert.deepEqual(content(await store.history({ afterSeq: a.seq, limit: 10 })), ['charlie delta', 'bravo echo']);
      assert.deepEqual(content(await store.history({ limit: 1 })), ['bravo echo'], 'the newest, when limited');
    });

    test('history through each name\'s own indexes gives what one filter over all messages gives, newest n in reading order', async () => {
      // A store of its own, so that the reference below sees every message in it.
      const f = await fx.fresh();
      const hs = await openStore(loadConfig(f.env));
      try {
        const names = ['h0', 'h1', 'h2', 'h3', 'h4'];
        const words = ['apple', 'apricot', 'banana', 'cherry', 'damson'];
        let r = 7;
        const rand = (k: number) => ((r = (r * 1103515245 + 12345) & 0x7fffffff) % k);
        const base = Date.now() - 100_000;
        type Ref = { seq: number; id: string; from: string; to: string[]; thread: string | null; project: string | null; content: string; sent_at: number };
        const ref: Ref[] = [];
        for (let i = 0; i < 240; i++) {
          const from = names[rand(5)]!;
          // Mostly dms, some broadcasts to several, a few to one name only (a busy side and a quiet one).
          const others = names.filter((x) => x !== from);
          const to = rand(6) === 0 ? others.filter(() => rand(2) === 0) : [rand(4) === 0 ? 'h4' : others[rand(others.length)]!];
          const thread = rand(3) === 0 ? `t${rand(3)}` : null;
          const project = rand(4) === 0 ? 'pj' : null;
          const content = `${words[rand(5)]} ${words[rand(5)]} number${i}`;
          const m = await insertOne(hs, msg(from, { content, thread_id: thread, project, sent_at: base + i * 10, kind: to.length > 1 ? 'broadcast' : 'dm' }),
            to.map((k) => ({ key: k, display: k })));
          ref.push({ seq: m.seq, id: m.id, from, to, thread, project, content, sent_at: base + i * 10 });
        }
        const expect = (q: HistoryFilter): string[] => {
          const hit = ref.filter((m) => {
            if (q.participant && q.peer) {
              if (!((m.from === q.participant && m.to.includes(q.peer)) || (m.from === q.peer && m.to.includes(q.participant)))) return false;
            } else if (q.participant || q.peer) {
              const k = (q.participant ?? q.peer)!;
              if (m.from !== k && !m.to.includes(k)) return false;
            }
            if (q.thread_id && m.thread !== q.thread_id) return false;
            if (q.project && m.project !== q.project) return false;
            if (q.since !== undefined && m.sent_at < q.since) return false;
            if (q.until !== undefined && m.sent_at > q.until) return false;
            if (q.afterSeq !== undefined && m.seq <= q.afterSeq) return false;
            if (q.query && !q.query.split(' ').every((w) => m.content.split(' ').some((c) => c.startsWith(w)))) return false;
            return true;
          });
          const cut = q.afterSeq === undefined ? hit.slice(-q.limit) : hit.slice(0, q.limit);
          return cut.map((m) => m.id);
        };
        const cases: HistoryFilter[] = [];
        for (const limit of [1, 5, 20, 500]) {
          for (const a of names) {
            cases.push({ participant: a, limit });
            for (const b of names) if (b !== a) cases.push({ participant: a, peer: b, limit });
            cases.push({ participant: a, thread_id: 't1', limit }, { participant: a, query: 'ap', limit }, { participant: a, project: 'pj', limit });
            cases.push({ participant: a, peer: a === 'h4' ? 'h0' : 'h4', query: 'banana', thread_id: 't0', limit });
            cases.push({ participant: a, since: base + 600, until: base + 1800, limit }, { participant: a, afterSeq: ref[100]!.seq, limit });
          }
          cases.push({ limit }, { thread_id: 't2', limit }, { query: 'cherry damson', limit }, { afterSeq: ref[200]!.seq, limit }, { project: 'pj', query: 'apr', limit });
        }
        for (const q of cases) {
          const got = (await hs.history(q)).map((t) => t.message.id);
          assert.deepEqual(got, expect(q), JSON.stringify(q));
        }
        // Reading order, and the limit keeps the newest (or, after a seq, the next ones).
        const last3 = await hs.history({ participant: 'h4', limit: 3 });
        assert.equal(last3.length, 3);
        assert.ok(last3[0]!.message.seq < last3[1]!.message.seq && last3[1]!.message.seq < last3[2]!.message.seq);
        assert.equal(last3[2]!.message.id, expect({ participant: 'h4', limit: 1 })[0]);
      } finally {
        await hs.close();
        await f.cleanup();
      }
    });

    test('permissions: one pending per requester and id, decided once, notified once', async () => {
      const base = { request_id: 'abcde', requester_key: 'pr', requester_name: 'pr', requester_session: 'sp', approver_key: 'boss', tool_name: 'Bash', description: '', input_preview: '', created_at: Date.now() };
      const first = await store.createPermission(base);
      const second = await store.createPermission(base);
      assert.equal((await store.pendingPermission('pr', 'abcde'))!.id, second.id, 'a repeated id replaces the stale request');
      assert.notEqual(first.id, second.id);
      assert.equal(await store.decidePermission(second.id, 'allow', 'boss', 'session', Date.now()), true);
      assert.equal(await store.decidePermission(second.id, 'deny', 'boss', 'session', Date.now()), false);
      assert.deepEqual((await store.verdictsToNotify('sp')).map((p) => [p.request_id, p.state]), [['abcde', 'allow']]);
      await store.markVerdictNotified(second.id, Date.now());
      assert.deepEqual(await store.verdictsToNotify('sp'), []);
      assert.equal((await store.listPermissions(true)).some((p) => p.requester_key === 'pr'), false);
    });

    test('prune keeps mail still waiting', async () => {
      const waiting = await insertOne(store, msg('pz', { sent_at: 1 }), [{ key: 'pq', display: 'pq' }]);
      const r = await store.prune(Date.now() + 1);
      assert.ok(r.messages > 0);
      assert.ok(await store.trace(waiting.id));
    });

    test('prune goes in short transactions: writes from another connection get in between, and all old history goes', async () => {
      const cutoff = Date.now() - 86_400_000;
      const old = Array.from({ length: 1_000 }, (_, i) => ({ message: msg('prn', { sent_at: cutoff - 10_000 + i }), recipients: [] }));
      await store.insertMessages(old);
      const sender = await openStore(loadConfig(env));
      try {
        const pruning = store.prune(cutoff);
        await new Promise((r) => setImmediate(r));
        const left = (await sender.history({ participant: 'prn', until: cutoff, limit: 5_000 })).length;
        const during = await insertOne(sender, msg('prn-live'), [{ key: 'prn-to', display: 'prn-to' }]);
        if (fx.kind === 'sqlite') assert.ok(left > 0 && left < 1_000, `the prune had deleted ${1_000 - left} of 1,000 when others could write`);
        const r = await pruning;
        assert.ok(r.messages >= 1_000);
        assert.equal((await store.history({ participant: 'prn', until: cutoff, limit: 5_000 })).length, 0);
        assert.ok(await store.trace(during.id), 'a send made while pruning is kept');
      } finally {
        await sender.close();
      }
    });

    test('search stays right across batches of indexing and a prune of messages never searched', async () => {
      const a = await insertOne(store, msg('fts', { content: 'zebra one', sent_at: 2 }), []);
      assert.deepEqual((await store.history({ query: 'zebra', limit: 10 })).map((t) => t.message.id), [a.id]);
      const b = await insertOne(store, msg('fts', { content: 'zebra two', sent_at: 3 }), []);
      await store.prune(10); // removes b (and a) before b was ever indexed
      const c = await insertOne(store, msg('fts', { content: 'zebra three' }), []);
      assert.deepEqual((await store.history({ query: 'zebra', limit: 10 })).map((t) => t.message.id), [c.id]);
      assert.equal(await store.trace(b.id), undefined);
      await store.expireDue(Date.now());
      assert.deepEqual((await store.history({ query: 'three', limit: 10 })).map((t) => t.message.id), [c.id]);
    });
  });
}

describe('SQLite prune gives the space back', () => {
  test('a new database file shrinks after a prune (incremental vacuum, WAL truncated)', async () => {
    const f = await sqliteFixture.fresh();
    const store = await openStore(loadConfig(f.env));
    try {
      const old = Date.now() - 10 * 86_400_000;
      const big = 'x'.repeat(2_000);
      for (let b = 0; b < 4; b++) {
        await store.insertMessages(Array.from({ length: 500 }, (_, i) => ({ message: msg('vac', { content: `${big} ${b} ${i}`, sent_at: old + i }), recipients: [] })));
      }
      const before = (await store.size(Date.now())).bytes;
      assert.equal((await store.prune(Date.now() - 86_400_000)).messages, 2_000);
      const after = (await store.size(Date.now())).bytes;
      assert.ok(after < before / 2, `store ${before} bytes before the prune, ${after} after`);
      // 20 batches: the prune checkpointed between them itself, never leaving it to a sender's commit.
      const ckpt = (store as unknown as { c: { checkpoints: { ran: number } } }).c.checkpoints;
      assert.ok(ckpt.ran >= 2, `the prune checkpointed ${ckpt.ran} time(s)`);
    } finally {
      await store.close();
      await f.cleanup();
    }
  });
});
