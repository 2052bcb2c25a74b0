/**
 * The channel path across MCP revisions. Channel pushes are unsolicited notifications; MCP's
 * 2026-07-28 revision is stateless and has none, and Claude Code skips channels on a connection
 * that negotiated it. cc-dm answers every client with a revision that has them (the client's own
 * when it is one, else the pinned one), and a client offering any revision still gets its pushes.
 *
 * An upgrade of @modelcontextprotocol/sdk that changes the revisions it speaks fails here first,
 * so that it is reviewed (src/channel/revision.ts) instead of silently losing pushes.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { LATEST_PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/sdk/types.js';
import { PINNED_REVISION, PUSH_REVISIONS, chooseRevision, pinRevision, type Negotiated } from '../../src/channel/revision.js';
import { InProcWorld } from '../support/inproc.js';
import { sqlite } from '../support/stores.js';
import { World } from '../support/world.js';

/** The stateless revision: no path for a server's own notifications. */
const STATELESS = '2026-07-28';
/** What the SDK spoke when this was last reviewed (1.32.2). */
const REVIEWED_SDK = { latest: '2025-11-25', supported: ['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05', '2024-10-07'] };

describe('MCP revision', () => {
  test('the SDK still speaks the pinned revision, and speaks what was reviewed', () => {
    assert.ok(
      SUPPORTED_PROTOCOL_VERSIONS.includes(PINNED_REVISION),
      `@modelcontextprotocol/sdk no longer supports ${PINNED_REVISION}: channel pushes would be lost; pin a revision it supports that has unsolicited notifications`,
    );
    assert.deepEqual(
      { latest: LATEST_PROTOCOL_VERSION, supported: [...SUPPORTED_PROTOCOL_VERSIONS] },
      REVIEWED_SDK,
      '@modelcontextprotocol/sdk changed the MCP revisions it speaks: review src/channel/revision.ts (PUSH_REVISIONS, PINNED_REVISION), then update REVIEWED_SDK',
    );
    for (const r of PUSH_REVISIONS) assert.ok(SUPPORTED_PROTOCOL_VERSIONS.includes(r), `the SDK speaks ${r}`);
    assert.ok(!PUSH_REVISIONS.includes(STATELESS));
  });

  test('chooseRevision: a push revision as asked, anything else pinned', () => {
    for (const r of PUSH_REVISIONS) assert.equal(chooseRevision(r), r);
    assert.equal(chooseRevision(STATELESS), PINNED_REVISION);
    assert.equal(chooseRevision('2099-01-01'), PINNED_REVISION);
    assert.equal(chooseRevision('nonsense'), PINNED_REVISION);
  });

  test('a server whose SDK could only answer a stateless revision runs channel-less and says so', async () => {
    // A stand-in for a future SDK: its initialize answers the stateless revision whatever is asked.
    let handler: ((req: any) => Promise<any>) | undefined;
    const fake = {
      _oninitialize: async () => ({ protocolVersion: STATELESS, capabilities: {}, serverInfo: { name: 'x', version: '0' } }),
      setRequestHandler: (_schema: unknown, h: (req: any) => Promise<any>) => (handler = h),
    } as unknown as Server;
    let seen: Negotiated | undefined;
    pinRevision(fake, (n) => (seen = n));
    const result = await handler!({ method: 'initialize', params: { protocolVersion: STATELESS, capabilities: {}, clientInfo: { name: 'c', version: '1' } } });
    assert.equal(result.protocolVersion, STATELESS);
    assert.deepEqual(seen, { requested: STATELESS, negotiated: STATELESS, push: false });
    // An SDK without the initialize handler this relies on fails at start, loudly.
    assert.throws(() => pinRevision({ setRequestHandler() {} } as unknown as Server, () => {}), /review src\/channel\/revision\.ts/);
  });

  describe('in process (SDK Client over linked in-memory transports)', () => {
    let w: InProcWorld;
    before(async () => {
      w = await InProcWorld.create(sqlite);
    });
    after(async () => {
      await w.close();
    });

    for (const offer of [STATELESS, ...PUSH_REVISIONS, undefined]) {
      test(`a client asking for ${offer ?? `the SDK's latest (${LATEST_PROTOCOL_VERSION})`} negotiates a push revision and gets pushes`, async () => {
        const tag = (offer ?? 'latest').replace(/[^0-9a-z]/g, '');
        const rx = await w.start(`rx-${tag}`, { protocolVersion: offer });
        const tx = await w.start(`tx-${tag}`);
        const expected = offer === undefined ? LATEST_PROTOCOL_VERSION : chooseRevision(offer);
        assert.equal(rx.client.negotiated, expected, 'the exact revision negotiated');
        assert.ok(PUSH_REVISIONS.includes(rx.client.negotiated!));
        assert.deepEqual(rx.server.revision(), { requested: offer ?? LATEST_PROTOCOL_VERSION, negotiated: expected, push: true });
        assert.equal(rx.server.canPush(), true, 'pushes count as seen');
        const sent = await tx.call('dm', { to: `rx-${tag}`, content: `hello over ${expected}` });
        assert.equal(sent.isError, false, JSON.stringify(sent.body));
        await rx.waitFor((p) => p.pushes.some((m) => m.content === `hello over ${expected}`), 10_000, `the push over ${expected}`);
        await rx.close();
        await tx.close();
      });
    }
  });

  describe('spawned (cc-dm serve over stdio)', () => {
    let w: World;
    before(async () => {
      w = await World.create(sqlite);
    });
    after(async () => {
      await w.close();
    });

    test(`a client asking for ${STATELESS} is answered ${PINNED_REVISION} and gets pushes`, async () => {
      const rx = await w.start('rx-spawned', { protocolVersion: STATELESS });
      assert.equal(rx.negotiated, PINNED_REVISION);
      const tx = await w.start('tx-spawned');
      const sent = await tx.call('dm', { to: 'rx-spawned', content: 'pushed over the pinned revision' });
      assert.equal(sent.isError, false, JSON.stringify(sent.body));
      await rx.waitFor((p) => p.pushes.some((m) => m.content === 'pushed over the pinned revision'), 15_000, 'the push');
      const who = await rx.call('who');
      const me = (who.body.sessions ?? who.body).find?.((s: { name: string }) => s.name === 'rx-spawned');
      if (me) assert.equal(me.can_receive_push, true);
    });
  });
});
