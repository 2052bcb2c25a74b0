/**
 * The bus: the one way into the store for every edge (the channel server's sessions, the CLI,
 * the console). It sends for any sender (a session or the human), answers permission requests,
 * and offers the reads the edges show: the roster, history, traces, approvals. It knows nothing
 * of MCP, HTTP or terminals.
 */
import type { Config } from '../config.js';
import { CcDmError } from '../errors.js';
import { checkName, nameKey } from '../names.js';
import { LATEST_VERSION } from '../store/schema.js';
import type { Behavior, HistoryFilter, MessageRow, Presence, SessionRow, Store, Wake } from '../store/types.js';

export type { HistoryFilter };
import { CORE, type BusCore } from './core.js';
import * as hook from './hook.js';
import type { AgentBinding, AgentRef, AgentSessionView, Claimed, UnconfirmedClaim } from './hook.js';
import { humanVerdict, type VerdictResult } from './relay.js';
import { effectiveWake, perform, prepareBroadcast, prepareDm, type BroadcastResult, type SendResult } from './send.js';
import { HUMAN, type Sender } from './sender.js';
import type { BroadcastArgs, DmArgs } from './validate.js';
import {
  approvalView,
  iso,
  messageView,
  threadViews,
  type ApprovalView,
  type MessageView,
  type RosterEntry,
  type ThreadView,
} from './views.js';

export interface RosterOptions {
  /** Only sessions and mailboxes of this project (a tagged session sees its own project). */
  project?: string | null;
  /** Also the mailboxes of names whose session is not running. */
  offline?: boolean;
}

export class Bus {
  readonly [CORE]: BusCore;

  constructor(core: BusCore) {
    this[CORE] = core;
  }

  get config(): Config {
    return this[CORE].config;
  }

  /** Where the store is and what it is, for people (never credentials). */
  describeStore(): { kind: string; where: string } & Store['capabilities'] {
    const s = this[CORE].store;
    return { kind: s.kind, where: s.where, ...s.capabilities };
  }

  // --- sending, one call at a time (the CLI and the console; sessions group theirs) -------

  async dm(from: Sender, args: DmArgs): Promise<SendResult | VerdictResult> {
    return perform(this[CORE], await prepareDm(this[CORE], from, args));
  }

  async broadcast(from: Sender, args: BroadcastArgs, opts: { project?: string } = {}): Promise<BroadcastResult> {
    return perform(this[CORE], await prepareBroadcast(this[CORE], from, args, opts));
  }

  humanVerdict(requestId: string, behavior: Behavior, requester?: string): Promise<VerdictResult> {
    return humanVerdict(this[CORE], requestId, behavior, requester);
  }

  // --- reading ----------------------------------------------------------------------------

  /** Live sessions first, then (with `offline`) every other mailbox; ended sessions keep their names and mail. */
  async roster(o: RosterOptions = {}): Promise<RosterEntry[]> {
    const core = this[CORE];
    const live = await core.liveSessions();
    const names = await core.store.listNames();
    const pending = await core.store.pendingCounts(core.now());
    const inScope = (project: string | null) => !o.project || project === o.project;
    const reserved = new Set(names.filter((n) => n.reserved).map((n) => n.key));
    const out: RosterEntry[] = [];
    for (const s of live) {
      if (s.name && s.name_key && inScope(s.project)) out.push(liveEntry(s, pending.get(s.name_key) ?? 0, reserved.has(s.name_key)));
    }
    if (o.offline) {
      const liveKeys = new Set(live.map((s) => s.name_key));
      for (const n of names) {
        if (liveKeys.has(n.key) || n.released_to || n.key === HUMAN.key || !inScope(n.project)) continue;
        out.push({
          name: n.display,
          live: false,
          role: n.role,
          project: n.project,
          host: null,
          cwd: null,
          pid: null,
          name_source: null,
          wanted_name: null,
          client: null,
          agent: null,
          path: null,
          presence: 'offline',
          wake: null,
          can_receive_push: false,
          pending: pending.get(n.key) ?? 0,
          reserved: n.reserved,
          started_at: null,
          last_active_at: iso(n.last_held_at),
        });
      }
    }
    out.sort((a, b) => Number(b.live) - Number(a.live) || nameKey(a.name).localeCompare(nameKey(b.name)));
    return out;
  }

  // --- the hook path: what an agent's hooks do, found by the agent's pid ----------------------

  async agentSession(ref: AgentRef): Promise<AgentSessionView | undefined> {
    const s = await hook.sessionOfAgent(this[CORE], ref);
    return s && hook.agentSessionView(this[CORE], s);
  }

  agentPresence(ref: AgentRef, presence: Presence): Promise<void> {
    return hook.agentPresence(this[CORE], ref, presence);
  }

  async agentWake(ref: AgentRef, wake: Wake, wakePid: number | null): Promise<AgentSessionView | undefined> {
    const s = await hook.agentWake(this[CORE], ref, wake, wakePid);
    return s && hook.agentSessionView(this[CORE], s);
  }

  async bindAgent(b: AgentBinding): Promise<AgentSessionView | undefined> {
    const s = await hook.bindAgent(this[CORE], b);
    return s && hook.agentSessionView(this[CORE], s);
  }

  async claimForAgent(
    ref: AgentRef,
    o: { budget: number; size(m: MessageRow, code: string): number; offset: number },
  ): Promise<{ claimed: Claimed[]; more: boolean }> {
    const s = await hook.sessionOfAgent(this[CORE], ref);
    return s ? hook.claimForHook(this[CORE], s, o) : { claimed: [], more: false };
  }

  unconfirmedClaims(name: string): Promise<UnconfirmedClaim[]> {
    return hook.unconfirmedClaims(this[CORE], nameKey(name));
  }

  settleClaim(c: UnconfirmedClaim, action: 'confirm' | 'requeue'): Promise<void> {
    return hook.settleClaim(this[CORE], c, action);
  }

  /**
   * Messages matching the filter, oldest first (the newest `limit`, or those after `afterSeq`).
   * A full-text query is words (letters and digits), each matched as a word prefix: anything else
   * in it separates words, and a query with no word, or with a NUL, is a clear E_INVALID.
   */
  async history(filter: HistoryFilter): Promise<MessageView[]> {
    const query = filter.query === undefined || filter.query.trim() === '' ? undefined : searchWords(filter.query);
    return (await this[CORE].store.history({ ...filter, query })).map(messageView);
  }

  /** Threads over the most recent messages. */
  async threads(window = 2000): Promise<ThreadView[]> {
    return threadViews(await this[CORE].store.history({ limit: window }));
  }

  /** A message with where it is for each recipient; mail past its time to live shows as expired. */
  async trace(id: string): Promise<MessageView> {
    const core = this[CORE];
    await core.store.expireDue(core.now());
    const t = await core.store.trace(id.trim());
    if (!t)
      throw new CcDmError('E_NOT_FOUND', `no message with id "${id}". Message ids look like m_… and are returned by dm and broadcast.`);
    return messageView(t);
  }

  async approvals(pendingOnly: boolean): Promise<ApprovalView[]> {
    return (await this[CORE].store.listPermissions(pendingOnly)).map(approvalView);
  }

  // --- the human's housekeeping -------------------------------------------------------------

  /** Keeps a name from being taken with register (or releases it); returns the name as written. */
  async reserve(name: string, reserved: boolean): Promise<string> {
    const display = checkName(name);
    await this[CORE].store.reserveName(display, nameKey(display), reserved, this[CORE].now());
    return display;
  }

  /** Marks queued mail past its time to live expired; returns how many. */
  expire(): Promise<number> {
    return this[CORE].store.expireDue(this[CORE].now());
  }

  /** Deletes history older than the given days (queued mail is always kept). */
  prune(olderThanDays: number): Promise<{ messages: number; sessions: number }> {
    return this[CORE].store.prune(this[CORE].now() - olderThanDays * 86_400_000);
  }

  // --- for cc-dm doctor ---------------------------------------------------------------------

  /** The store's schema version, and the newest this cc-dm knows. */
  async schema(): Promise<{ version: number; latest: number }> {
    return { version: await this[CORE].store.schemaVersion(), latest: LATEST_VERSION };
  }

  /** The store's size on disk and the mail waiting in it. */
  storeSize(): Promise<{ bytes: number; queued: number; queuedBytes: number }> {
    return this[CORE].store.size(this[CORE].now());
  }

  /** The doorbell addresses of live sessions (socket files still in use); dead sessions are ended on the way. */
  async openDoorbells(): Promise<Set<string>> {
    return new Set((await this[CORE].liveSessions()).map((s) => s.doorbell).filter((d): d is string => !!d));
  }

  async close(): Promise<void> {
    await this[CORE].doorbell.close();
    await this[CORE].store.close();
  }
}

/** At most this many words in one search (each is one more condition). */
const SEARCH_MAX_WORDS = 32;

/** The words of a search query, joined by spaces; E_INVALID for a query with none, or with a NUL. */
export function searchWords(query: string): string {
  if (query.includes('\u0000')) throw new CcDmError('E_INVALID', 'the search query contains a NUL character (\\u0000): remove it.');
  const words = query.match(/[\p{L}\p{N}]+/gu) ?? [];
  if (words.length === 0) {
    throw new CcDmError(
      'E_INVALID',
      `the search query ${JSON.stringify(query.slice(0, 40))} has no words: search for letters or digits (quotes, operators and punctuation only separate words).`,
    );
  }
  if (words.length > SEARCH_MAX_WORDS)
    throw new CcDmError('E_INVALID', `the search query has ${words.length} words; the limit is ${SEARCH_MAX_WORDS}.`);
  return words.join(' ');
}

function liveEntry(s: SessionRow, pending: number, reserved: boolean): RosterEntry {
  return {
    name: s.name!,
    live: true,
    role: s.role,
    project: s.project,
    host: s.host,
    cwd: s.cwd,
    pid: s.pid,
    name_source: s.name_source,
    wanted_name: s.wanted_name,
    client: s.client,
    agent: s.agent,
    path: s.path,
    presence: s.presence,
    wake: s.path === 'hook' ? effectiveWake(s) : null,
    can_receive_push: s.can_push,
    pending,
    reserved,
    started_at: iso(s.started_at),
    last_active_at: iso(s.last_active_at),
  };
}
