/**
 * The channel server over stdio, as Claude Code runs it: what needs its process (malformed
 * JSON-RPC on stdin, 20 processes starting at once). Capability, tools, push and bad input are
 * tested in-process: test/inproc/channel.test.ts.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { stores } from '../support/stores.js';
import { World } from '../support/world.js';

for (const fx of stores()) {
  describe(`channel server [${fx.kind}]`, () => {
    let w: World;
    before(async () => { w = await World.create(fx); });
    after(async () => { await w.close(); });

    test('malformed JSON-RPC on stdin never crashes the server', async () => {
      const s = await w.start('sturdy');
      const stdin = (s.transport as any)._process.stdin as NodeJS.WritableStream;
      stdin.write('this is not json\n{"jsonrpc":"2.0","id":"x","method":\n{"jsonrpc":"2.0","method":"tools/call","id":99999,"params":null}\n[]\n{}\n');
      const r = await s.call('who');
      assert.equal(r.isError, false);
      assert.equal(r.body.you, 'sturdy');
    });

    test('20 servers started at the same instant on a fresh store all come up and are listed', async () => {
      const fresh = await World.create(fx);
      try {
        const names = Array.from({ length: 20 }, (_, i) => `swarm-${i}`);
        await Promise.all(names.map((n) => fresh.start(n)));
        const who = await fresh.peers[0]!.call('who');
        assert.deepEqual(who.body.sessions.map((s: any) => s.name).sort(), [...names].sort());
        const cli = fresh.cli(['who', '--json']);
        assert.equal(cli.code, 0);
        assert.equal(cli.json.length, 20);
      } finally {
        await fresh.close();
      }
    });
  });
}
