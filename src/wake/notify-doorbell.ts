/**
 * The PostgreSQL store's doorbell: the store NOTIFYs at commit (payload: the recipient's name key
 * for mail, its session id for a verdict) on one shared channel; each server keeps one dedicated
 * connection listening and reads its mailbox when a payload is its own. So ring() has nothing
 * left to do: a second NOTIFY would only cost a query and a second mailbox read.
 *
 * NOTIFY is only a latency hint (as pg-boss says): the tables are the truth and the fallback
 * poll always runs. Notifications sent while the connection is down are lost, so after a
 * reconnect the server reads its mailbox at once. A connection can also die silently (a machine
 * or NAT gone): a cheap query every 15 s finds that out.
 */
import type { Logger } from '../log.js';
import type { ListenConnection } from '../store/types.js';
import type { Doorbell, RingTarget } from './doorbell.js';

/** What a session row records as its doorbell: rings go through the database it is in. */
export const NOTIFY_ADDRESS = 'pg:notify';

const HEALTH_EVERY_MS = 15_000;
const HEALTH_TIMEOUT_MS = 5_000;
const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 2_000;

export class NotifyDoorbell implements Doorbell {
  private conn?: ListenConnection;
  private closed = false;
  private reconnectTimer?: NodeJS.Timeout;
  private healthTimer?: NodeJS.Timeout;
  private backoff = BACKOFF_MIN_MS;
  private target?: { sessionId: string; nameKeyOf: () => string | null; onRing: () => void };
  /** Times the connection was re-established. */
  reconnects = 0;
  /** Rings heard on the channel, for anyone, plus (re)connections (see changes()). */
  private heard = 0;
  private polls = 0;
  /** When the connection was lost, while it is (for the log line that says it is back). */
  private lostAt?: number;

  constructor(
    private readonly connect: () => ListenConnection,
    private readonly log: Logger,
  ) {}

  addressFor(): string {
    return NOTIFY_ADDRESS;
  }

  /** Rings for this session's id, or for the name it holds now (renames included). */
  async listen(sessionId: string, nameKeyOf: () => string | null, onRing: () => void): Promise<void> {
    this.target = { sessionId, nameKeyOf, onRing };
    try {
      await this.open();
    } catch {
      this.scheduleReconnect(); // the poll delivers meanwhile
    }
    this.healthTimer = setInterval(() => this.healthCheck(), HEALTH_EVERY_MS);
    this.healthTimer.unref();
  }

  private async open(): Promise<void> {
    const t = this.target!;
    const conn = this.connect();
    await conn.open(
      (payload) => {
        this.heard++;
        if (payload && (payload === t.sessionId || payload === t.nameKeyOf())) t.onRing();
      },
      (why) => this.lost(conn, why),
    );
    if (this.closed) {
      await conn.close();
      return;
    }
    this.conn = conn;
    this.heard++;
    this.backoff = BACKOFF_MIN_MS;
    if (this.lostAt !== undefined) {
      this.log.info(`doorbell: LISTEN re-established after ${Date.now() - this.lostAt} ms; reading the mailbox`);
      this.lostAt = undefined;
    }
  }

  /** Whether the connection is up (every ring committed meanwhile reaches it). */
  get listening(): boolean {
    return this.conn !== undefined;
  }

  private lost(conn: ListenConnection, why: string): void {
    if (this.conn !== conn) return;
    this.conn = undefined;
    void conn.close();
    if (this.closed) return;
    this.lostAt ??= Date.now();
    this.log.warn(`doorbell: LISTEN connection lost (${why}); reconnecting, the poll delivers meanwhile`);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    const wait = this.backoff + Math.random() * this.backoff;
    this.backoff = Math.min(this.backoff * 2, BACKOFF_MAX_MS);
    this.reconnectTimer = setTimeout(async () => {
      this.reconnectTimer = undefined;
      try {
        await this.open();
        this.reconnects++;
        // Rings sent while we were not listening are lost: read the mailbox now.
        this.target?.onRing();
      } catch {
        this.scheduleReconnect();
      }
    }, wait);
    this.reconnectTimer.unref();
  }

  private healthCheck(): void {
    const conn = this.conn;
    if (!conn) return;
    const timer = setTimeout(() => this.lost(conn, 'health check timed out'), HEALTH_TIMEOUT_MS);
    conn.ping().then(
      () => clearTimeout(timer),
      () => {
        clearTimeout(timer);
        this.lost(conn, 'health check failed');
      },
    );
  }

  /** The store already rang at commit (see above). */
  ring(_sessions: readonly RingTarget[]): void {}

  /**
   * What lets an idle poll skip its queries: every write that can leave mail or a verdict waiting
   * NOTIFYs at commit, and PostgreSQL delivers each NOTIFY to every listening connection. So while
   * the connection is up, the number of rings heard (for anyone) moves whenever something may be
   * waiting. Without a connection the number moves on every call, and every sixth call moves it
   * anyway (about every 30 s at the default poll), so a mistake here costs latency, never mail.
   */
  changes(): number {
    this.polls++;
    if (!this.conn) return -this.polls;
    // heard x 8 + a 3-bit epoch that moves every sixth call: one value per (heard, epoch).
    return this.heard * 8 + (Math.floor(this.polls / 6) % 8);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.healthTimer) clearInterval(this.healthTimer);
    const c = this.conn;
    this.conn = undefined;
    if (c) await c.close();
  }
}
