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
});
