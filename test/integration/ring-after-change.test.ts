/**
 * Every message after a rename or a restart arrives through the doorbell, not at the next
 * fallback poll: the servers here poll once a minute, so whatever arrives within seconds was
 * rung. A sender's cached view of a recipient (its doorbell connection, its liveness
 * confirmation) must never outlive the recipient's session.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { stores } from '../support/stores.js';
import { World, exited } from '../support/world.js';
import { until } from '../support/wait.js';
import type { Peer } from '../../src/channel/peer.js';
import { SERVER_NODE_FLAGS } from '../../src/launch.js';

const NO_POLL = { CC_DM_POLL_MS: '60000' };
/** Started as the plugin starts it, by a client that says it is Claude Code and lists the tools as it does. */
const AS_PLUGIN = { env: NO_POLL, clientName: 'claude-code', nodeArgs: [...SERVER_NODE_FLAGS] };
/** Far below the 60 s poll, far above a ring's few milliseconds even on a loaded machine. */
const RUNG_WITHIN_MS = 10_000;

/** A session started as the plugin's, that lists the tools as Claude Code does right after the handshake. */
async function startAsPlugin(w: World, name: string): Promise<Peer> {
  const p = await w.start(name, AS_PLUGIN);
  await p.client.listTools();
  return p;
}

async function arrives(from: Peer, to: Peer, toName: string, content: string): Promise<void> {
  const r = await from.call('dm', { to: toName, content });
  assert.equal(r.isError, false, JSON.stringify(r.body));
  await to.waitFor((p) => p.pushes.some((m) => m.content === content), RUNG_WITHIN_MS, `"${content}" rung to ${toName}`);
}

for (const fx of stores()) {
  describe(`ring after a change [${fx.kind}]`, () => {
    let w: World;
    before(async () => { w = await World.create(fx); });
    after(async () => { await w.close(); });

    test('after a rename, a dm to the new name and a dm from it are rung at once, again and again', async () => {
      const a = await startAsPlugin(w, 'ren-a');
      const b = await startAsPlugin(w, 'ren-b');
      await arrives(a, b, 'ren-b', 'before the rename');
      for (let i = 1; i <= 3; i++) {
        const name = `ren-b${i}`;
        assert.equal((await b.call('register', { name, role: 'renamed' })).isError, false);
        await arrives(a, b, name, `to the new name ${i}`);
        await arrives(b, a, 'ren-a', `from the new name ${i}`);
      }
    });

    test('after a restart under the same name, a dm sent right after it is back is rung at once', async () => {
      const s = await startAsPlugin(w, 'rs-sender');
      let r = await startAsPlugin(w, 'rs-target');
      await arrives(s, r, 'rs-target', 'first life');
      for (let life = 2; life <= 4; life++) {
        const pid = r.pid!;
        process.kill(pid, 'SIGKILL');
        await until(() => exited(pid), 10_000, 'the kill');
        r = await startAsPlugin(w, 'rs-target');
        assert.equal((await r.call('who')).body.you, 'rs-target', 'the name is taken back');
        await arrives(s, r, 'rs-target', `life ${life}`);
        await arrives(r, s, 'rs-sender', `back from life ${life}`);
      }
    });

    test('after a clean restart (stdin closed), the same', async () => {
      const s = await startAsPlugin(w, 'cr-sender');
      let r = await startAsPlugin(w, 'cr-target');
      await arrives(s, r, 'cr-target', 'first');
      for (let life = 2; life <= 3; life++) {
        await r.close();
        r = await startAsPlugin(w, 'cr-target');
        await arrives(s, r, 'cr-target', `clean life ${life}`);
      }
    });
  });
}
