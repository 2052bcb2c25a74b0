/**
 * The store interface: the single source of truth for sessions, names, messages, deliveries
 * and permission requests. Two backends implement it (SQLite, PostgreSQL); the bus holds all
 * the rules and calls only this. Times are epoch milliseconds everywhere inside.
 */

export type NameSource = 'env' | 'register' | 'variant' | 'auto';
export type DeliveryState = 'queued' | 'delivered' | 'replied' | 'expired';
export type SenderKind = 'session' | 'human';
export type MessageKind = 'dm' | 'broadcast' | 'permission_request';

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
}

export type SessionPatch = Partial<Pick<SessionRow, 'can_push' | 'doorbell' | 'last_active_at' | 'heartbeat_at' | 'client' | 'role' | 'project'>>;

export type NewSession = Omit<SessionRow, 'name' | 'name_key' | 'name_source' | 'wanted_name' | 'ended_at' | 'end_reason'>;

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

/** A live holder and the name row, as seen inside the claim transaction. */
export interface ClaimState {
  /** The name asked for, or a numbered variant of it tried after the name itself was held. */
  candidate: 'wanted' | 'variant';
  name: NameRow | undefined;
  holder: SessionRow | undefined;
  /** Queued mail waiting in this name's mailbox. */
  queued: number;
}

export type ClaimDecision =
  | { kind: 'take'; endHolder?: string }
  | { kind: 'variant' }
  | { kind: 'refuse'; code: 'E_NAME_TAKEN' | 'E_NAME_RESERVED'; message: string };

export interface ClaimRequest {
  sessionId: string;
  name: string;
  source: NameSource;
  /** Inserted in the same transaction as the claim (start); absent for a rename. */
  newSession?: NewSession;
  /** A rename: this name is released (it says what it is called now) and its queued mail follows. */
  releasing?: string;
}

export type ClaimResult =
  | { ok: true; session: SessionRow; variantOf?: string; tookOverFrom?: string }
  | { ok: false; code: 'E_NAME_TAKEN' | 'E_NAME_RESERVED'; message: string };

/** Decides a claim; called by the store inside its write transaction, with liveness resolved. */
export type ClaimDecider = (state: ClaimState, isAlive: (s: SessionRow) => boolean) => ClaimDecision;

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
  delivered_via: 'push' | 'pull' | null;
  delivered_session: string | null;
  replied_at: number | null;
  expired_at: number | null;
  expire_reason: string | null;
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

export interface StoreCapabilities {
  /** The store carries its own doorbell (PostgreSQL LISTEN/NOTIFY). */
  readonly notify: boolean;
  /** Sessions on other hosts share it: liveness of remote sessions is by heartbeat. */
  readonly multiHost: boolean;
}

export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  readonly capabilities: StoreCapabilities;
  /** A description safe to print (never credentials). */
  readonly where: string;
  schemaVersion(): Promise<number>;
  close(): Promise<void>;

  claimName(req: ClaimRequest, decide: ClaimDecider, isAlive: (s: SessionRow) => boolean): Promise<ClaimResult>;
  endSession(id: string, reason: string): Promise<void>;
  updateSession(id: string, patch: SessionPatch): Promise<void>;
  getSession(id: string): Promise<SessionRow | undefined>;
  /** Sessions not marked ended (some may be dead: the bus checks and ends them). */
  openSessions(): Promise<SessionRow[]>;
  /** The session not marked ended that holds this name, if any (through the one-holder index). */
  holderOf(key: string): Promise<SessionRow | undefined>;
  /** A name's row and the open session holding it (if any), in one read: a dm's first check. */
  lookup(key: string): Promise<{ name?: NameRow; holder?: SessionRow }>;
  listNames(): Promise<NameRow[]>;
  reserveName(display: string, key: string, reserved: boolean): Promise<void>;

  /**
   * Stores messages in one transaction, in the given order (the sends of one session that arrived
   * together: a group commit). All are stored, or none.
   */
  insertMessages(mail: readonly NewMail[]): Promise<MessageRow[]>;
  pendingFor(recipientKey: string, limit: number, now: number): Promise<PendingDelivery[]>;
  countPending(recipientKey: string, now: number): Promise<number>;
  markDelivered(messageSeq: number, recipientKey: string, sessionId: string, via: 'push' | 'pull', at: number): Promise<boolean>;
  expireDue(now: number): Promise<number>;
  trace(messageId: string): Promise<Trace | undefined>;
  history(filter: HistoryFilter): Promise<Trace[]>;
  /** Has `fromKey` ever sent `toKey` a message? (Any session may answer one that wrote to it.) */
  hasWritten(fromKey: string, toKey: string): Promise<boolean>;
  prune(before: number): Promise<{ messages: number; sessions: number }>;

  createPermission(p: NewPermission): Promise<PermissionRow>;
  pendingPermission(requesterKey: string, requestId: string): Promise<PermissionRow | undefined>;
  decidePermission(id: number, behavior: Behavior, by: string, kind: SenderKind, at: number): Promise<boolean>;
  verdictsToNotify(requesterSession: string): Promise<PermissionRow[]>;
  markVerdictNotified(id: number, at: number): Promise<void>;
  listPermissions(pendingOnly: boolean): Promise<PermissionRow[]>;

  /** A store that carries its own doorbell (PostgreSQL LISTEN/NOTIFY) provides it here. */
  createDoorbell?(): import('../wake/doorbell.js').Doorbell;
  /**
   * A number that changes whenever another connection has committed (SQLite's data_version),
   * read without touching the tables: an idle session's poll skips its queries while it stands
   * still. Stores without a cheap one leave it out, and the poll always reads.
   */
  changeCounter?(): Promise<number>;
}
