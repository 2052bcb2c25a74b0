/** Units of the bus: the group commit of a session's sends (order, batching, exact results). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sleep } from '../support/wait.js';
import { GroupCommit } from '../../src/bus/group-commit.js';
import type { PreparedSend, Step } from '../../src/bus/send.js';
import type { MessageRow } from '../../src/store/types.js';

/** A stand-in for the store's insertMessages: records each transaction's messages, in order. */
function ledger(opts: { delayMs?: number; failOnce?: Error } = {}) {
  const commits: string[][] = [];
  let seq = 0;
  const commit = async (sends: readonly PreparedSend<unknown>[]) => {
    if (opts.delayMs) await sleep(opts.delayMs);
    const failure = opts.failOnce;
    opts.failOnce = undefined;
    if (failure) throw failure;
    commits.push(sends.map((s) => s.mail.message.content));
    return sends.map((s) => s.result({ ...s.mail.message, seq: ++seq } as MessageRow));
  };
  return { commits, commit, stored: () => commits.flat() };
}

const send = (content: string): PreparedSend<string> => ({
  mail: { message: { content } as MessageRow, recipients: [] },
  ring: [],
  result: (m) => `${m.content}#${m.seq}`,
});

test('calls made together are stored in one transaction, in call order', async () => {
  const l = ledger();
  const g = new GroupCommit(l.commit);
  const results = await Promise.all(['a', 'b', 'c', 'd'].map((c) => g.submit(async () => send(c))));
  assert.deepEqual(results, ['a#1', 'b#2', 'c#3', 'd#4']);
  assert.deepEqual(l.commits, [['a', 'b', 'c', 'd']]);
});

test('a call alone is stored alone, without waiting for company', async () => {
  const l = ledger();
  const g = new GroupCommit(l.commit);
  assert.equal(await g.submit(async () => send('solo')), 'solo#1');
  assert.equal(await g.submit(async () => send('next')), 'next#2');
  assert.deepEqual(l.commits, [['solo'], ['next']]);
});

test('calls that arrive while a commit runs join the next one; commits never overlap', async () => {
  const l = ledger({ delayMs: 20 });
  const g = new GroupCommit(l.commit);
  const first = g.submit(async () => send('1'));
  await sleep(5); // the first commit is running now
  const later = ['2', '3', '4'].map((c) => g.submit(async () => send(c)));
  assert.deepEqual(await Promise.all([first, ...later]), ['1#1', '2#2', '3#3', '4#4']);
  assert.deepEqual(l.commits, [['1'], ['2', '3', '4']]);
});

test('slow checks (a remote store) still end in one commit per group, in call order', async () => {
  const l = ledger({ delayMs: 5 });
  const g = new GroupCommit(l.commit);
  const results = await Promise.all(['a', 'b', 'c'].map((c, i) => g.submit(async () => { await sleep(3 - i); return send(c); })));
  assert.deepEqual(results, ['a#1', 'b#2', 'c#3']);
  assert.deepEqual(l.stored(), ['a', 'b', 'c']);
  assert.ok(l.commits.length < 3, `grouped: ${JSON.stringify(l.commits)}`);
});

test('a failed check fails only its own call', async () => {
  const l = ledger();
  const g = new GroupCommit(l.commit);
  const calls = [
    g.submit(async () => send('a')),
    g.submit(async (): Promise<Step<string>> => { throw new Error('E_UNKNOWN_RECIPIENT'); }),
    g.submit(async () => send('c')),
  ];
  const settled = await Promise.allSettled(calls);
  assert.deepEqual(settled.map((s) => s.status), ['fulfilled', 'rejected', 'fulfilled']);
  assert.deepEqual(l.stored(), ['a', 'c']);
});

test('a check that fails while earlier sends wait is made again once they are stored', async () => {
  const l = ledger();
  const g = new GroupCommit(l.commit);
  // The second call's recipient exists only once the first call's mail is stored (a new mailbox).
  const second = async () => {
    if (!l.stored().includes('to a new name')) throw new Error('no such name');
    return send('to the same name');
  };
  const results = await Promise.all([g.submit(async () => send('to a new name')), g.submit(second)]);
  assert.deepEqual(results, ['to a new name#1', 'to the same name#2']);
  assert.deepEqual(l.commits, [['to a new name'], ['to the same name']]);
});

test('a step carried out at once (a verdict) runs after the sends before it are stored', async () => {
  const l = ledger({ delayMs: 5 });
  const g = new GroupCommit(l.commit);
  let storedBefore: string[] = [];
  const results = await Promise.all([
    g.submit(async () => send('a')),
    g.submit(async () => ({ run: async () => { storedBefore = l.stored(); return 'verdict'; } })),
    g.submit(async () => send('b')),
  ]);
  assert.deepEqual(results, ['a#1', 'verdict', 'b#2']);
  assert.deepEqual(storedBefore, ['a']);
});

test('a failed commit fails every call of its transaction, and the next ones still go through', async () => {
  const l = ledger({ failOnce: new Error('E_STORE_BUSY') });
  const g = new GroupCommit(l.commit);
  const settled = await Promise.allSettled(['a', 'b'].map((c) => g.submit(async () => send(c))));
  assert.deepEqual(settled.map((s) => s.status), ['rejected', 'rejected']);
  assert.match(String((settled[0] as PromiseRejectedResult).reason), /E_STORE_BUSY/);
  assert.equal(await g.submit(async () => send('c')), 'c#1');
  assert.deepEqual(l.stored(), ['c']);
});

test('with slow checks, a long burst does not wait for its last call to be checked before storing its first', async () => {
  let checked = 0;
  let checkedAtFirstCommit = -1;
  const l = ledger();
  const g = new GroupCommit(async (sends) => {
    if (checkedAtFirstCommit < 0) checkedAtFirstCommit = checked;
    return l.commit(sends);
  });
  const contents = Array.from({ length: 100 }, (_, i) => `m${i}`);
  await Promise.all(contents.map((c) => g.submit(async () => { await sleep(0); checked++; return send(c); })));
  assert.deepEqual(l.stored(), contents);
  assert.ok(checkedAtFirstCommit < 100, `first commit after ${checkedAtFirstCommit} checks`);
});

test('a burst larger than one transaction holds is stored in several, in order', async () => {
  const l = ledger();
  const g = new GroupCommit(l.commit);
  const contents = Array.from({ length: 150 }, (_, i) => `m${i}`);
  await Promise.all(contents.map((c) => g.submit(async () => send(c))));
  assert.deepEqual(l.stored(), contents);
  assert.ok(l.commits.every((c) => c.length <= 64), l.commits.map((c) => c.length).join(','));
});

test('a check that fails while an earlier send is still being committed is made again once that send is stored', async () => {
  const l = ledger({ delayMs: 20 });
  const g = new GroupCommit(l.commit);
  const calls: Promise<string>[] = [];
  // 64 sends fill a batch, whose commit starts at once; the 64th makes a name a mailbox.
  for (let i = 0; i < 63; i++) calls.push(g.submit(async () => send(`s${i}`)));
  calls.push(g.submit(async () => send('mailbox')));
  // Checked while that commit runs: it fails until the mailbox is stored, as a dm to a new name would.
  calls.push(g.submit(async () => {
    if (!l.stored().includes('mailbox')) throw new Error('no such name yet');
    return send('after');
  }));
  const results = await Promise.all(calls);
  assert.equal(results.at(-1), 'after#65');
});
