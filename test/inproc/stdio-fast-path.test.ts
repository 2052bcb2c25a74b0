/**
 * The stdio transport answers tools/call and ping itself (flushing-stdio.ts, issue 12). The same
 * bytes sent to a server with that fast path and to one without it (the SDK's path for every
 * request) must get the same answers: results, errors and their shapes, unknown methods answered
 * by the SDK, malformed lines refused; and a call never overtakes the notification before it.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { openBus } from '../../src/bus/open.js';
import { Session } from '../../src/bus/session/session.js';
import { createChannelServer } from '../../src/channel/server.js';
import { FlushingStdioServerTransport } from '../../src/channel/flushing-stdio.js';
import { instructions } from '../../src/channel/instructions.js';
import { loadConfig } from '../../src/config.js';
import { CcDmError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { stores } from '../support/stores.js';
import { until } from '../support/wait.js';

interface Raw {
  write(lines: unknown[]): void;
  out: Record<string, any>[];
  /** The `_meta` of each tool call, as onCall saw it (Codex names its thread there). */
  metas: unknown[];
  errors: string[];
  events: string[];
  close(): Promise<void>;
}

/** A session whose channel server talks JSON-RPC lines over in-memory pipes, with or without the fast path. */
async function rawServer(env: Record<string, string>, name: string, fast: boolean): Promise<Raw> {
  const cfg = loadConfig({ ...env, CC_DM_SESSION_NAME: name, CC_DM_PUSH: 'on', CC_DM_LOG_LEVEL: 'error' });
  const log = createLogger({ level: 'error', tag: `raw ${name}` });
  const bus = await openBus(cfg, { log });
  const session = await Session.start(bus, { cwd: process.cwd(), canPush: true, client: null });
  const events: string[] = [];
  const metas: unknown[] = [];
  const touch = session.touch.bind(session);
  session.touch = () => {
    events.push('call');
    touch();
  };
  const channel = createChannelServer({
    config: cfg, log, session: () => session,
    unavailable: () => new CcDmError('E_STORE_DOWN', 'down'),
    instructions: instructions(session.name, { canPush: true, hooks: false, relay: false, approver: undefined }),
    onCall: async (meta) => {
      metas.push(meta);
    },
  });
  const initialized = channel.server.oninitialized;
  channel.server.oninitialized = () => {
    events.push('initialized');
    initialized?.();
  };
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const out: Record<string, any>[] = [];
  let text = '';
  stdout.on('data', (d) => {
    text += String(d);
    let nl;
    while ((nl = text.indexOf('\n')) >= 0) {
      out.push(JSON.parse(text.slice(0, nl)));
      text = text.slice(nl + 1);
    }
  });
  const transport = new FlushingStdioServerTransport(stdin, stdout as never, fast ? channel.fastRequests : new Map());
  const errors: string[] = [];
  await channel.server.connect(transport);
  const sdkError = channel.server.onerror;
  channel.server.onerror = (e) => {
    errors.push(e.message.slice(0, 40));
    sdkError?.(e);
  };
  return {
    write: (lines) => stdin.write(lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n'),
    out, errors, events, metas,
    close: async () => {
      await channel.server.close().catch(() => {});
      await session.stop('test');
      await bus.close();
    },
  };
}

/**
 * Times, ids and the like differ between two runs; so does a peer's count of mail not yet
 * delivered (the last dm races its delivery to the peer's server). Everything else must not.
 */
function normal(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v)
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z/g, 'TIME')
    .replace(/m_[0-9a-z]+/g, 'MSGID')
    .replace(/(\\"pending\\": )\d+/g, '$1N'));
}

const call = (id: unknown, name: unknown, args?: unknown, extra: Record<string, unknown> = {}) =>
  ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, ...(args === undefined ? {} : { arguments: args }), ...extra } });

const SCRIPT: unknown[] = [
  { jsonrpc: '2.0', method: 'notifications/initialized' },
  call(2, 'dm', { to: 'fp-peer', content: 'hello over the fast path' }),
  { jsonrpc: '2.0', id: 3, method: 'ping' },
  { jsonrpc: '2.0', id: 'four', method: 'ping', params: { _meta: { progressToken: 7 } } },
  call(5, 'dm', { to: 'nobody-here', content: 'x' }),
  call(6, 'no-such-tool', {}),
  call(7, 5, {}),
  call(8, 'dm', [1, 2]),
  call(9, 'dm', { to: 'fp-peer' }),
  call(10, 'dm', { to: 'fp-peer', content: 'extra', routing: 'x' }),
  { jsonrpc: '2.0', id: 11, method: 'foo/bar', params: {} },
  { jsonrpc: '2.0', method: 'notifications/whatever' },
  '{not json',
  { jsonrpc: '2.0', id: 12, method: 'ping', extra: true },
  { jsonrpc: '2.0', id: 12.5, method: 'ping' },
  { jsonrpc: '1.0', id: 13, method: 'ping' },
  call(15, 'who', {}, { task: { ttl: 1000 } }),
  call(17, 'status', { message_id: 'm_nope' }),
  { jsonrpc: '2.0', id: 18, method: 'tools/list' },
  { jsonrpc: '2.0', id: 19, method: 'tools/call' },
  call(20, 'dm', { to: 'fp-peer', content: 'last' }),
  call(21, 'who', {}, { _meta: { threadId: 'thread-21' } }),
];
/** Reads of what the calls above stored: sent once those are answered (calls in one write run concurrently). */
const READS: unknown[] = [
  call(14, 'history', undefined, { _meta: { progressToken: 'p' } }),
  call(16, 'history', { peer: 'fp-peer' }),
];
const ANSWERED = [2, 3, 'four', 5, 6, 7, 8, 9, 10, 11, 14, 15, 16, 17, 18, 19, 20, 21];

for (const fx of stores()) {
  describe(`stdio fast path: tools/call and ping answered by the transport [${fx.kind}]`, () => {
    const worlds: { env: Record<string, string>; cleanup(): Promise<void> }[] = [];
    const servers: Raw[] = [];
    // Idle PostgreSQL connections are unreferenced: this holds the loop open, as a server's stdin does.
    let keepAlive: NodeJS.Timeout;
    before(async () => {
      keepAlive = setInterval(() => {}, 60_000);
      for (let i = 0; i < 2; i++) worlds.push(await fx.fresh());
    });
    after(async () => {
      for (const s of servers) await s.close();
      for (const w of worlds) await w.cleanup();
      clearInterval(keepAlive);
    });

    test('the same lines get the same answers with and without the fast path, and calls keep their place', async () => {
      const answers: Record<string, any>[][] = [];
      const errors: string[][] = [];
      const metas: unknown[][] = [];
      for (const [i, fast] of [true, false].entries()) {
        const env = worlds[i]!.env;
        const peer = await rawServer(env, 'fp-peer', fast);
        const s = await rawServer(env, 'fp-self', fast);
        servers.push(peer, s);
        s.write([{ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: { experimental: { 'claude/channel': {} } }, clientInfo: { name: 'raw', version: '1' } } }]);
        await until(() => s.out.length === 1, 10_000, 'the initialize answer');
        // Everything else in one write, as a client sends what it has at once.
        s.write(SCRIPT);
        const answered = () => s.out.filter((m) => m.id !== undefined).length;
        await until(() => answered() >= ANSWERED.length - 1, 10_000, 'every answer to the first write');
        s.write(READS);
        await until(() => answered() >= 1 + ANSWERED.length, 10_000, 'every answer');
        await new Promise((r) => setTimeout(r, 100));
        assert.deepEqual(s.events.slice(0, 2), ['initialized', 'call'], 'the first call is handled after notifications/initialized');
        const byId = new Map(s.out.filter((m) => m.id !== undefined).map((m) => [m.id, m]));
        assert.deepEqual([...byId.keys()].sort(), [1, ...ANSWERED].sort(), 'one answer per request, none for bad lines');
        answers.push(ANSWERED.map((id) => normal(byId.get(id)) as Record<string, any>));
        errors.push(s.errors);
        metas.push(s.metas);
      }
      const [withFast, without] = answers as [Record<string, any>[], Record<string, any>[]];
      for (let k = 0; k < ANSWERED.length; k++) assert.deepEqual(withFast[k], without[k], `answer to ${ANSWERED[k]}`);
      assert.deepEqual(errors[0], errors[1], 'the same lines refused');
      assert.deepEqual(metas[0], metas[1], 'onCall sees the same _meta on both paths');
      assert.ok(metas[0]!.some((m) => (m as { threadId?: string } | undefined)?.threadId === 'thread-21'), 'a call\'s _meta reaches onCall');
      assert.equal(errors[0]!.length, 4, 'the line that is not JSON, the extra key, the fractional id and the wrong version');
      // What the answers say, once.
      const get = (id: unknown) => withFast[ANSWERED.indexOf(id as never)]!;
      assert.equal(JSON.parse(get(2).result.content[0].text).success, true);
      assert.deepEqual(get(3).result, {});
      assert.equal(get(5).result.isError, true);
      assert.ok(get(7).error, 'a tool name that is not a string: the SDK\'s error');
      assert.equal(get(11).error.code, -32601, 'an unknown method: the SDK\'s method not found');
    });
  });
}
