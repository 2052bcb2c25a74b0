/** Units of the bus: names, validation, claim rules, configuration, liveness. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkName, distance, nameKey } from '../../src/names.js';
import { DmArgs, parseArgs, parseVerdict } from '../../src/bus/validate.js';
import { claimRules } from '../../src/bus/claim.js';
import { loadConfig } from '../../src/config.js';
import { isSessionAlive, processStart } from '../../src/bus/liveness.js';
import { machineId } from '../../src/procfs.js';
import { ftsQuery } from '../../src/store/sqlite/fts.js';
import { envelope } from '../../src/bus/session/delivery.js';
import { hasChannelFlag } from '../../src/channel/visibility.js';
import { scrub } from '../../src/log.js';
import { RateLimit } from '../../src/bus/rate.js';
import type { NameRow, SessionRow } from '../../src/store/types.js';

test('names fold case and surrounding space; bad names are refused with the rule', () => {
  assert.equal(nameKey('  Planner '), 'planner');
  assert.equal(checkName(' ok-1.x_y '), 'ok-1.x_y');
  assert.throws(() => checkName('a b'), /not allowed/);
  assert.throws(() => checkName('x'.repeat(65)), /limit is 64/);
  assert.equal(distance('planer', 'planner'), 1);
});

test('dm arguments: strict, typed, limits stated', () => {
  assert.deepEqual(parseArgs(DmArgs, { to: 'a', content: 'b', thread_id: 'x:y' }, 'dm'), { to: 'a', content: 'b', thread_id: 'x:y' });
  assert.throws(() => parseArgs(DmArgs, { to: 'a', content: 'b', from_session: 'h' }, 'dm'), /unknown argument\(s\) "from_session"/);
  assert.throws(() => parseArgs(DmArgs, { to: 'a', content: 'b', priority: '"x' }, 'dm'), /priority must be one of/);
  assert.throws(() => parseArgs(DmArgs, undefined, 'dm'), /to is required/);
  assert.throws(() => parseArgs(DmArgs, { to: 'a', content: 'nul\u0000byte' }, 'dm'), /NUL character/);
  assert.throws(() => parseArgs(DmArgs, { to: 'a', content: 'é'.repeat(40000) }, 'dm'), /65536 bytes/, 'the limit counts bytes, not characters');
});

test('verdicts: whole content "yes <id>" or "no <id>", any case, spaces ignored', () => {
  assert.deepEqual(parseVerdict(' YES abcde '), { behavior: 'allow', requestId: 'abcde' });
  assert.deepEqual(parseVerdict('no QWERT'), { behavior: 'deny', requestId: 'qwert' });
  for (const s of ['yes abcde please', 'yes', 'ok abcde', 'yes abcdef', 'yes abc1e']) assert.equal(parseVerdict(s), undefined, s);
});

const session = (over: Partial<SessionRow> = {}): SessionRow => ({
  id: 's1', name: 'n', name_key: 'n', name_source: 'env', wanted_name: null, role: null, project: null, cwd: '/', host: 'h',
  pid: process.pid, ppid: process.ppid, pid_start: null, ppid_start: null, can_push: true, client: null, doorbell: null,
  started_at: 0, last_active_at: 0, heartbeat_at: 0, ended_at: null, end_reason: null, machine: null, heartbeat_expiry_ms: null,
  history_since: null, agent: null, agent_pid: null, agent_session: null, transcript: null, path: null, presence: null, presence_at: null, wake: null, wake_pid: null, ...over,
});
const name = (over: Partial<NameRow> = {}): NameRow => ({ key: 'n', display: 'n', project: null, role: null, reserved: false, released_to: null, created_at: 0, last_held_at: 0, ...over });
const alive = () => true;
const dead = () => false;

test('claim rules: the launch environment takes a dead holder\'s name, register never takes a mailbox', () => {
  const env = claimRules('env');
  const reg = claimRules('register');
  assert.deepEqual(env({ candidate: 'wanted', name: name(), holder: session(), queued: 0 }, alive), { kind: 'variant' });
  assert.deepEqual(env({ candidate: 'wanted', name: name(), holder: session(), queued: 3 }, dead), { kind: 'take', endHolder: 's1' });
  assert.deepEqual(env({ candidate: 'wanted', name: name({ reserved: true }), holder: undefined, queued: 0 }, dead), { kind: 'take', endHolder: undefined });
  assert.equal(reg({ candidate: 'wanted', name: name(), holder: session(), queued: 0 }, alive).kind, 'refuse');
  assert.equal(reg({ candidate: 'wanted', name: name(), holder: undefined, queued: 0 }, dead).kind, 'refuse', 'an ended session\'s mailbox');
  assert.equal(reg({ candidate: 'wanted', name: undefined, holder: undefined, queued: 1 }, dead).kind, 'refuse', 'mail queued for a new name');
  assert.equal(reg({ candidate: 'wanted', name: name({ reserved: true }), holder: undefined, queued: 0 }, dead).kind, 'refuse');
  assert.deepEqual(reg({ candidate: 'wanted', name: name({ released_to: 'other' }), holder: undefined, queued: 0 }, dead), { kind: 'take', endHolder: undefined });
  assert.equal(reg({ candidate: 'wanted', name: name({ last_held_at: null }), holder: undefined, queued: 0 }, dead).kind, 'take', 'a name only ever reserved, then released, is free');
  assert.deepEqual(reg({ candidate: 'wanted', name: undefined, holder: undefined, queued: 0 }, dead), { kind: 'take', endHolder: undefined });
  assert.deepEqual(env({ candidate: 'variant', name: name(), holder: undefined, queued: 2 }, dead), { kind: 'variant' }, 'a variant never lands in a waiting mailbox');
});

test('configuration is read once, validated, frozen', () => {
  const c = loadConfig({ CC_DM_HOME: '/tmp/x', CC_DM_DM_ALLOWLIST: ' A, b ,', CC_DM_SESSION_NAME: 'me' });
  assert.deepEqual(c.dmAllowlist, ['a', 'b']);
  assert.equal(c.dbPath, '/tmp/x/bus.db');
  assert.equal(c.storeKind, 'sqlite');
  assert.ok(Object.isFrozen(c));
  assert.equal(loadConfig({ CC_DM_DATABASE_URL: 'postgres://u:p@h/db' }).storeKind, 'postgres');
  assert.throws(() => loadConfig({ CC_DM_DM_ALLOWLIST: 'a', CC_DM_DM_BLOCKLIST: 'b' }), /both set/);
  assert.throws(() => loadConfig({ CC_DM_PUSH: 'maybe' }), /CC_DM_PUSH=maybe/);
  assert.throws(() => loadConfig({ CC_DM_HEARTBEAT_MS: '1000', CC_DM_HEARTBEAT_EXPIRY_MS: '1500' }), /CC_DM_HEARTBEAT_EXPIRY_MS/);
});

test('liveness: this process is alive, a wrong start time or a dead pid is not; elsewhere by its own recorded heartbeat', () => {
  const policy = { machine: machineId(), multiHost: false };
  assert.equal(isSessionAlive(session({ pid_start: processStart(process.pid), ppid_start: processStart(process.ppid) }), policy), true);
  assert.equal(isSessionAlive(session({ pid_start: 'not-the-start' }), policy), false, 'a reused pid is not the holder');
  assert.equal(isSessionAlive(session({ pid: 2 ** 22 + 1 }), policy), false);
  assert.equal(isSessionAlive(session({ ended_at: 1 }), policy), false);
  // CC_DM_HOST is a label: a row here with another host is still judged by its process.
  assert.equal(isSessionAlive(session({ host: 'other', machine: machineId(), heartbeat_at: 0 }), policy), true);
  // Elsewhere: by the expiry the session recorded, never the judge's.
  const elsewhere = { machine: 'another-boot/1', heartbeat_expiry_ms: 30_000 };
  assert.equal(isSessionAlive(session({ ...elsewhere, heartbeat_at: Date.now() - 20_000 }), { ...policy, multiHost: true }), true);
  assert.equal(isSessionAlive(session({ ...elsewhere, heartbeat_at: Date.now() - 60_000 }), { ...policy, multiHost: true }), false);
  assert.equal(isSessionAlive(session({ ...elsewhere, heartbeat_expiry_ms: 1, heartbeat_at: Date.now() - 500 }), { ...policy, multiHost: true }), true, 'the floor');
});

test('envelope: the sender\'s fields first, the bus\'s written over them', () => {
  const meta = envelope({
    seq: 1, id: 'm_1', kind: 'dm', from_name: 'a', from_key: 'a', from_session: 's', sender_kind: 'session', to_name: 'b',
    project: null, content: 'c', priority: 'low', message_type: null, thread_id: 't', sent_at: 0, expires_at: 1,
  }, 'B');
  assert.deepEqual(meta, { priority: 'low', thread_id: 't', from_session: 'a', to_session: 'B', message_id: 'm_1', sent_at: '1970-01-01T00:00:00.000Z', sender_kind: 'session' });
});

test('full-text queries are quoted word prefixes; channel flags are read from argv; credentials are scrubbed', () => {
  assert.equal(ftsQuery('foo "bar" NEAR(x'), '"foo"* "bar"* "NEAR"* "x"*', 'words as words: no FTS5 syntax survives');
  assert.equal(hasChannelFlag(['claude', '--dangerously-load-development-channels', 'server:x']), true);
  assert.equal(hasChannelFlag(['claude', '--channels=plugin:cc-dm@cc-dm']), true);
  assert.equal(hasChannelFlag(['claude', '--model', 'x']), false);
  assert.equal(hasChannelFlag(['claude', '--channels', 'plugin:telegram@official']), false, 'another plugin\'s channel');
  assert.equal(hasChannelFlag(['claude', '--channels', 'plugin:telegram@official', 'plugin:cc-dm@cc-dm', '--model', 'x']), true);
  assert.equal(hasChannelFlag(['claude', '--dangerously-load-development-channels', 'server:ccdm', '-p']), true);
  assert.equal(scrub('connect postgres://bob:s3cret@db:5432/x failed'), 'connect postgres://***@db:5432/x failed');
});

test('the per-sender rate limit allows a burst, refills over time, and says how long to wait', () => {
  const r = new RateLimit(3, 0);
  r.take(0); r.take(0); r.take(0);
  assert.throws(() => r.take(0), /faster than 3 messages a minute.*wait 20 s/);
  r.take(20_000);
  assert.throws(() => r.take(20_000), /wait/);
});
