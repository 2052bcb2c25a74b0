/**
 * PostgreSQL only, in-process: liveness across hosts. Two sessions with different CC_DM_HOST
 * share one database; a session on another host is alive while its heartbeat is fresh on the
 * judging bus's clock. The heartbeat timer is off (a 10-minute period) and the test beats by
 * hand between moves of the world's clock, so an hour passes in milliseconds and "not before
 * its expiry" is exact. What needs real processes (a frozen process that resumes and rejoins, a
 * host whose clock is off) is in test/integration/postgres-hosts.test.ts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedOrOwnServer } from '../integration/postgres-support.js';
import { InProcWorld } from '../support/inproc.js';
import { postgresFixture } from '../support/stores.js';

const MIN = 60_000;
/** The heartbeat timer never fires during a test; a session is dead 20 minutes after its last beat. */
const HB = { CC_DM_HEARTBEAT_MS: String(10 * MIN), CC_DM_HEARTBEAT_EXPIRY_MS: String(20 * MIN) };
const on = (host: string) => ({ env: { ...HB, CC_DM_HOST: host } });

describe('several hosts in-process [postgres]', () => {
  let server: Awaited<ReturnType<typeof sharedOrOwnServer>>;
  let w: InProcWorld;
  before(async () => {
    server = await sharedOrOwnServer();
    w = await InProcWorld.create(postgresFixture(server.adminUrl));
  });
  after(async () => {
    await w?.close();
    await server?.done();
  });

  test('a remote session is alive while its heartbeat is fresh, and expires when it stops', async () => {
    const watcher = await w.start('watcher', on('host-a'));
    // In-process the worker keeps running after it falls silent; its client shows no pushes, so
    // it takes no mail meanwhile, as a frozen machine would not.
    const worker = await w.start('worker', { ...on('host-b'), channel: false });
    const seen = async () => (await watcher.call('who')).body.sessions.map((s: any) => s.name) as string[];
    const remote = (await watcher.call('who')).body.sessions.find((s: any) => s.name === 'worker');
    assert.equal(remote?.host, 'host-b');

    // An hour goes by, each host beating every 15 minutes: only heartbeats keep the worker alive.
    for (let i = 0; i < 4; i++) {
      w.clock.advance(15 * MIN);
      await Promise.all([watcher.heartbeat(), worker.heartbeat()]);
    }
    assert.ok((await seen()).includes('worker'), 'alive while it heartbeats, long past the expiry since it started');
    // Fresh heartbeat: the name is held, even from another host with the name in its environment.
    const twin = await w.start('worker', on('host-c'));
    assert.equal((await twin.call('who')).body.you, 'worker-2', 'a live remote holder keeps its name');
    await twin.close();

    // Silent (as a machine that lost its network): the worker beats no more.
    w.clock.advance(19 * MIN);
    await watcher.heartbeat();
    assert.ok((await seen()).includes('worker'), 'not before its expiry (19 minutes of silence)');
    w.clock.advance(2 * MIN);
    await watcher.heartbeat();
    assert.ok(!(await seen()).includes('worker'), 'the silent remote session expired (21 minutes)');

    // Its mailbox stays: mail waits, and a new session with that name on another host gets it.
    const r = await watcher.call('dm', { to: 'worker', content: 'for whoever runs as worker next' });
    assert.equal(r.isError, false, JSON.stringify(r.body));
    assert.equal(r.body.recipient_online, false);
    const successor = await w.start('worker', on('host-c'));
    assert.equal((await successor.call('who')).body.you, 'worker', 'the expired name is taken back at once');
    await successor.waitFor((p) => p.pushes.length === 1, 5_000, 'the waiting mail');
    assert.equal(successor.pushes[0]!.content, 'for whoever runs as worker next');
  });

  test('a session another host has ended, still running, takes no mail for its old name: the successor gets it', async () => {
    const watcher = await w.start('judge', on('host-a'));
    // Its client shows pushes: were it allowed, its drain would take the mail.
    const stale = await w.start('stale', on('host-b'));
    w.clock.advance(21 * MIN);
    await watcher.heartbeat();
    assert.ok(!(await watcher.call('who')).body.sessions.some((s: any) => s.name === 'stale'), 'ended by the judge');
    const r = await watcher.call('dm', { to: 'stale', content: 'not for the ended one' });
    assert.equal(r.body.recipient_online, false);
    // The ended session is rung (its LISTEN still matches the name) and drains: it must not claim.
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(stale.pushes.length, 0, 'nothing handed to a session that is no longer the name\'s');
    assert.equal((await w.human.trace(r.body.message_id)).recipients[0]!.state, 'queued');
    const successor = await w.start('stale', on('host-c'));
    await successor.waitFor((p) => p.pushes.some((m) => m.content === 'not for the ended one'), 5_000, 'the successor to get it');
  });
});
