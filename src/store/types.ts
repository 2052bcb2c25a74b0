/**
 * The store interface: the single source of truth for sessions, names, messages, deliveries
 * and permission requests. Two backends implement it (SQLite, PostgreSQL): each is driver,
 * connection, retry and SQL dialect only. The rules (who may hold a name, who may answer a
 * permission request, what a dm may reach) are the bus's; only the bus calls the store.
 * Times are epoch milliseconds everywhere inside.
 */

export type NameSource = 'env' | 'register' | 'variant' | 'auto';
export type DeliveryState = 'queued' | 'delivered' | 'replied' | 'expired';
export type SenderKind = 'session' | 'human' | 'system';
export type MessageKind = 'dm' | 'broadcast' | 'permission_request';
export type DeliveredVia = 'push' | 'hook' | 'pull';
/** How a session's mail reaches its model (docs/design.md, "Delivery paths"). */
export type DeliveryPath = 'channel' | 'hook' | 'pull';
/** The agent CLI a session runs in, when cc-dm can tell. */
export type Agent = 'claude' | 'codex' | 'gemini';
/** What the agent is doing, from its hooks; offline once it ended. */
export type Presence = 'working' | 'idle' | 'approval' | 'offline';
/**
 * How an idle session on the hook path is woken when mail arrives: `bell` (Claude Code's
 * FileChanged hook on the session's bell), `queue` (a fixed prompt queued into a Codex thread
 * through the shared app-server daemon, well under a second), `queue_slow` (the same into a Codex
 * that runs in-process, which polls its queue: about 10 s), `waiter` (a `cc-dm wait` the Gemini
 * model started in the background, running now), `none` (nothing can: mail waits for its next turn).
 */
export type Wake = 'bell' | 'queue' | 'queue_slow' | 'waiter' | 'none';

export interface SessionRow {
  id: string;
  name: string | null;
  name_key: string | null;
  name_source: NameSource | null;
  /** The name the launch environment asked for, when this session got a variant instead. */
  wanted_name: string | null;
  role: string | null;
  project: string | null;
  cwd: string;
  host: string;
  pid: number;
  ppid: number;
  /** Process start ticks (from /proc), so a reused pid is never mistaken for the holder. */
  pid_start: string | null;
  ppid_start: string | null;
  can_push: boolean;
  client: string | null;
  doorbell: string | null;
  started_at: number;
  last_active_at: number;
  heartbeat_at: number;
  ended_at: number | null;
  end_reason: string | null;
  /** Where it runs: the kernel's boot and pid namespace (procfs.machineId), never a launch's claim. */
  machine: string | null;
  /** How long its heartbeat stays fresh, as this session itself recorded it (others judge it by this). */
  heartbeat_expiry_ms: number | null;
  /** A name taken with register (or a variant) starts with no past: history before this is not its own. */
  history_since: number | null;
  agent: Agent | null;
  /** The agent CLI's process (the nearest ancestor of the server that is one): its hooks carry this pid. */
  agent_pid: number | null;
  /** The agent's own id for this session (Claude Code's session id, a Codex thread id), from its hooks. */
  agent_session: string | null;
  /** The agent's transcript of this session, where a hook's delivery is confirmed. */
  transcript: string | null;
  path: DeliveryPath | null;
  presence: Presence | null;
  presence_at: number | null;
  /** How the session is woken when idle (hook path): see Wake. */
  wake: Wake | null;
  /** The process waiting for mail on its behalf (a Gemini `cc-dm wait`), while wake is `waiter`. */
  wake_pid: number | null;
}

const PATCHABLE = [
  'can_push',
  'doorbell',
  'last_active_at',
  'heartbeat_at',
  'client',
  'role',
  'project',
  'agent',
  'agent_session',
  'transcript',
  'path',
  'presence',
  'presence_at',
  'wake',
  'wake_pid',
] as const;
export type SessionPatch = Partial<Pick<SessionRow, (typeof PATCHABLE)[number]>>;

/** The columns a patch may set (a backend refuses any other). */
export const SESSION_PATCH_COLUMNS: ReadonlySet<string> = new Set(PATCHABLE);

export type NewSession = Omit<
  SessionRow,
  | 'name'
  | 'name_key'
  | 'name_source'
  | 'wanted_name'
  | 'ended_at'
  | 'end_reason'
  | 'transcript'
  | 'presence'
  | 'presence_at'
  | 'history_since'
  | 'agent_session'
  | 'wake'
  | 'wake_pid'
> &
  Partial<Pick<SessionRow, 'agent_session' | 'wake'>>;

export interface NameRow {
  key: string;
  display: string;
  /** Kept from the last session that held it, for project scoping of offline mail. */
  project: string | null;
  role: string | null;
  reserved: boolean;
  /** Set when the holder renamed itself away: the name is free, and says what it is called now. */
  released_to: string | null;
  created_at: number;
  last_held_at: number | null;
}

/** What a claim looks at for one candidate name, inside the claim's transaction. */
export interface CandidateState {
  name: NameRow | undefined;
  /** The open session holding it (other than the claimant), liveness not yet checked. */
  holder: SessionRow | undefined;
  /** Queued mail waiting in this name's mailbox. */
  queued: number;
}

/**
 * The steps a claim takes inside one write transaction. The bus's claim plan (bus/claim.ts)
 * decides; a backend only carries each step out (synchronously on SQLite, whose transactions
 * must not yield; with a round trip each on PostgreSQL).
 */
export interface ClaimSteps {
  insertSession(s: NewSession): void;
  candidate(key: string, exceptSession: string): CandidateState;
  endSession(id: string, reason: string, at: number): void;
  /**
   * Gives `sessionId` the name (and, for a rename, its new role and project) and records the name
   * row (created or re-held); returns the session.
   */
  take(t: {
    sessionId: string;
    display: string;
    key: string;
    source: NameSource;
    wanted: string | null;
    at: number;
    identity?: { role: string | null; project: string | null };
    /** History before this time is not this session's (a name taken with register, or a variant); null keeps the past. */
    historySince: number | null;
  }): SessionRow;
  /**
   * A rename: the old name says what it is called now, and its queued mail follows (and is rung).
   * With `collect` (a name this session itself took with register), a released name that no
   * message ever named and nobody reserved is deleted instead: renames leave no rows behind.
   */
  release(t: { fromKey: string; toKey: string; toDisplay: string; collect: boolean }): void;
}

/** The same steps as a backend with round trips runs them. */
export type AsyncClaimSteps = { [K in keyof ClaimSteps]: (...a: Parameters<ClaimSteps[K]>) => Promise<ReturnType<ClaimSteps[K]>> };

/** One step of a claim plan: which method, with which arguments. */
export type ClaimCall = { [K in keyof ClaimSteps]: { step: K; args: Parameters<ClaimSteps[K]> } }[keyof ClaimSteps];

/** A claim plan (see bus/claim.ts): yields steps, receives their results, returns its outcome. */
export type ClaimPlan<R> = Generator<ClaimCall, R, unknown>;

export interface NewMessage {
  id: string;
  kind: MessageKind;
  from_name: string;
  from_key: string;
  from_session: string | null;
  sender_kind: SenderKind;
  to_name: string | null;
  project: string | null;
  content: string;
  priority: string | null;
  message_type: string | null;
  thread_id: string | null;
  sent_at: number;
  expires_at: number;
}

export interface MessageRow extends NewMessage {
  seq: number;
}

/** A message to store: its row, a delivery per recipient, and the replies it marks. */
export interface NewMail {
  message: NewMessage;
  recipients: Recipient[];
  reply?: ReplyMark;
}

export interface Recipient {
  key: string;
  display: string;
}

export interface DeliveryRow {
  message_seq: number;
  recipient_key: string;
  recipient_name: string;
  state: DeliveryState;
  queued_at: number;
  delivered_at: number | null;
  delivered_via: DeliveredVia | null;
  delivered_session: string | null;
  replied_at: number | null;
  expired_at: number | null;
  expire_reason: string | null;
  /** A hook's claim: the random code the text was printed with, and the transcript's size then. */
  claim_code: string | null;
  claim_offset: number | null;
  /** When the text was seen in the agent's context (hook path); null until confirmed. */
  confirmed_at: number | null;
}

/** How a hook claimed a delivery, so that it can be confirmed later from the transcript. */
export interface HookClaim {
  code: string;
  offset: number;
}

export interface PendingDelivery {
  message: MessageRow;
  delivery: DeliveryRow;
}

export interface Trace {
  message: MessageRow;
  deliveries: DeliveryRow[];
}

export interface HistoryFilter {
  /** Messages sent or received by this name key. */
  participant?: string;
  /** With participant: only those exchanged with this peer. */
  peer?: string;
  thread_id?: string;
  project?: string;
  since?: number;
  until?: number;
  /** Full-text query over content. */
  query?: string;
  /** Only messages with seq above this (tail -f). */
  afterSeq?: number;
  limit: number;
}

export interface ReplyMark {
  /** The original recipient (now sending) and the original sender (now receiving). */
  recipientKey: string;
  senderKey: string;
  thread_id: string | null;
  /** Only deliveries queued since then (a name taken with register does not answer its predecessor's mail). */
  since: number | null;
}

export type Behavior = 'allow' | 'deny';

export interface PermissionRow {
  id: number;
  request_id: string;
  requester_key: string;
  requester_name: string;
  requester_session: string;
  approver_key: string | null;
  tool_name: string;
  description: string;
  input_preview: string;
  state: 'pending' | Behavior | 'expired';
  created_at: number;
  decided_at: number | null;
  decided_by: string | null;
  decided_kind: SenderKind | null;
  notified_at: number | null;
}

export type NewPermission = Omit<PermissionRow, 'id' | 'state' | 'decided_at' | 'decided_by' | 'decided_kind' | 'notified_at'>;

/**
 * A connection that hears the store's own rings (PostgreSQL LISTEN/NOTIFY), for the doorbell
 * in wake/. Only stores whose `capabilities.ring` is 'notify' open one.
 */
export interface ListenConnection {
  /** Connects and starts listening; rejects if it cannot. */
  open(onRing: (payload: string) => void, onLost: (why: string) => void): Promise<void>;
  /** A cheap round trip: rejects if the connection is dead. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface StoreCapabilities {
  /** Sessions on other hosts share this store: their liveness is judged by heartbeat. */
  readonly multiHost: boolean;
  /**
   * How a recipient is rung after a commit: 'sockets', the bus rings each recipient's local Unix
   * socket; 'notify', the store rings at commit and a doorbell hears it over `listen()`.
   */
  readonly ring: 'sockets' | 'notify';
  /** A local file holds the data (its path is `where`): its mode and size are worth checking. */
  readonly localFile: boolean;
}

export interface Store {
  /** The backend's name, for people (never branched on: see capabilities). */
  readonly kind: 'sqlite' | 'postgres';
  readonly capabilities: StoreCapabilities;
  /** A description safe to print (never credentials). */
  readonly where: string;
  schemaVersion(): Promise<number>;
  close(): Promise<void>;

  /** Runs a claim plan in one write transaction: all its steps take effect, or none. */
  claim<R>(plan: () => ClaimPlan<R>): Promise<R>;
  endSession(id: string, reason: string, at: number): Promise<void>;
  updateSession(id: string, patch: SessionPatch): Promise<void>;
  getSession(id: string): Promise<SessionRow | undefined>;
  /** Sessions not marked ended (some may be dead: the bus checks and ends them). */
  openSessions(): Promise<SessionRow[]>;
  /** The session not marked ended that holds this name, if any (through the one-holder index). */
  holderOf(key: string): Promise<SessionRow | undefined>;
  /** A name's row and the open session holding it (if any), in one read: a dm's first check. */
  lookup(key: string): Promise<{ name?: NameRow; holder?: SessionRow }>;
  listNames(): Promise<NameRow[]>;
  reserveName(display: string, key: string, reserved: boolean, at: number): Promise<void>;

  /**
   * Stores messages in one transaction, in the given order (the sends of one session that arrived
   * together: a group commit). All are stored, or none.
   */
  insertMessages(mail: readonly NewMail[]): Promise<MessageRow[]>;
  /**
   * Mail waiting in a mailbox, for the session that holds it: nothing once that session has been
   * ended (by another host, for a stale heartbeat), so it never takes its successor's mail.
   */
  pendingFor(recipientKey: string, sessionId: string, limit: number, now: number): Promise<PendingDelivery[]>;
  countPending(recipientKey: string, now: number): Promise<number>;
  /** Mail waiting, per recipient key (one query for the whole roster). */
  pendingCounts(now: number): Promise<Map<string, number>>;
  /**
   * Marks a queued delivery delivered (the one claim step of every path); false if it was not
   * queued any more (another path won) or the session has been ended. A hook's claim records how
   * to confirm it later.
   */
  markDelivered(
    messageSeq: number,
    recipientKey: string,
    sessionId: string,
    via: DeliveredVia,
    at: number,
    claim?: HookClaim,
  ): Promise<boolean>;
  /** Hook deliveries of this mailbox not yet confirmed in the agent's context, oldest first. */
  unconfirmed(recipientKey: string): Promise<PendingDelivery[]>;
  confirm(messageSeq: number, recipientKey: string, at: number): Promise<void>;
  /** Queues an unconfirmed hook delivery again (its text never reached the model); false if it was confirmed meanwhile. */
  requeue(messageSeq: number, recipientKey: string): Promise<boolean>;
  /** A one-shot watch: tell `watcherKey` when `targetKey` is next idle. */
  watchIdle(targetKey: string, watcherKey: string, watcherName: string, at: number): Promise<void>;
  /** Removes and returns the watches on `targetKey`. */
  takeIdleWatches(targetKey: string): Promise<{ watcher_key: string; watcher_name: string }[]>;
  expireDue(now: number): Promise<number>;
  trace(messageId: string): Promise<Trace | undefined>;
  history(filter: HistoryFilter): Promise<Trace[]>;
  /** Has `fromKey` sent `toKey` a message (since `since`, when given)? (Any session may answer one that wrote to it.) */
  hasWritten(fromKey: string, toKey: string, since?: number | null): Promise<boolean>;
  /** What one session has waiting in others' mailboxes: queued deliveries not yet expired, and their bytes. */
  queuedBy(sessionId: string, now: number): Promise<{ count: number; bytes: number }>;
  /** The store's size on disk, in bytes, and the mail waiting in it. */
  size(now: number): Promise<{ bytes: number; queued: number; queuedBytes: number }>;
  prune(before: number): Promise<{ messages: number; sessions: number }>;

  createPermission(p: NewPermission): Promise<PermissionRow>;
  pendingPermission(requesterKey: string, requestId: string): Promise<PermissionRow | undefined>;
  decidePermission(id: number, behavior: Behavior, by: string, kind: SenderKind, at: number): Promise<boolean>;
  verdictsToNotify(requesterSession: string): Promise<PermissionRow[]>;
  markVerdictNotified(id: number, at: number): Promise<void>;
  listPermissions(pendingOnly: boolean): Promise<PermissionRow[]>;

  /**
   * A number that changes whenever another connection has committed (SQLite's data_version),
   * read without touching the tables, so an idle session's poll can skip its queries while it
   * stands still; undefined where the store has no cheap one (the doorbell may know instead).
   */
  changeCounter(): Promise<number | undefined>;
  /** A connection hearing the store's rings; only where `capabilities.ring` is 'notify'. */
  listen(): ListenConnection;
}
