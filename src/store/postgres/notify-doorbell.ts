/**
 * The PostgreSQL store's doorbell: LISTEN/NOTIFY on one channel per database. A ring is a NOTIFY
 * whose payload is the recipient's name key (mail) or session id (a permission verdict); each
 * server keeps one dedicated connection LISTENing and reads its mailbox when a payload is its own.
 *
 * One shared channel rather than one per session, because it measured better: on the bench
 * (2 CPUs, 16 servers, two runs each, alternated) a channel per session gave a broadcast p99 of
 * 270-360 ms against 50-115 ms for the shared channel, and a dm p99 of 30-44 ms against 17-18 ms.
 * Filtering a few foreign rings in JavaScript costs less than whatever PostgreSQL spends on many
 * channels. Hearing every ring also gives the store a cheap change counter (see heard).
 *
 * The store itself rings, inside the statement that writes the mail (insertMessage) or the
 * verdict (decidePermission): PostgreSQL delivers the NOTIFY at commit. So ring() here has
 * nothing left to do; a second NOTIFY would only cost a query and a second mailbox read.
 *
 * NOTIFY is only a latency hint (as pg-boss says): the tables are the truth and the fallback
 * poll always runs. Notifications sent while the LISTEN connection is down are lost, so after a
 * reconnect the server LISTENs again and reads its mailbox at once. A LISTEN connection can
 * also die silently (a machine or NAT gone): a cheap query every 15 s finds that out.
 */
import type pg from 'pg';
import type { Doorbell } from '../../wake/doorbell.js';
import type { SessionRow } from '../types.js';

export const RING_CHANNEL = 'cc_dm_ring';

/** What a session row records as its doorbell: rings go through the database it is in. */
export const NOTIFY_ADDRESS = 'pg:notify';

const HEALTH_EVERY_MS = 15_000;
const HEALTH_TIMEOUT_MS = 5_000;
const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 2_000;

export class NotifyDoorbell implements Doorbell {
  private client?: pg.Client;
  private closed = false;
  private reconnectTimer?: NodeJS.Timeout;
  private healthTimer?: NodeJS.Timeout;
  private backoff = BACKOFF_MIN_MS;
  private target?: { sessionId: string; nameKeyOf: () => string | null; onRing: () => void };
  /** Times the LISTEN connection was re-established. */
  reconnects = 0;
  /**
   * Rings heard on the channel, for anyone, plus (re)connections: while it stands still and the
   * connection is up, nobody has committed mail or a verdict (the store's changeCounter).
   */
  heard = 0;
  onStateChange: (state: 'listening' | 'lost', detail?: string) => void = () => {};

  constructor(private readonly newClient: () => pg.Client) {}

  addressFor(): string {
    return NOTIFY_ADDRESS;
  }

  /** Rings for this session's id, or for the name it holds now (renames included). */
  async listen(sessionId: string, nameKeyOf: () => string | null, onRing: () => void): Promise<void> {
    this.target = { sessionId, nameKeyOf, onRing };
    try {
      await this.connect();
    } catch {
      this.scheduleReconnect(); // the poll delivers meanwhile
    }
    this.healthTimer = setInterval(() => this.healthCheck(), HEALTH_EVERY_MS);
    this.healthTimer.unref();
  }

  private async connect(): Promise<void> {
    const t = this.target!;
    const client = this.newClient();
    client.on('error', () => this.lost(client, 'connection error'));
    client.on('end', () => this.lost(client, 'connection ended'));
    client.on('notification', (n) => {
      if (n.channel !== RING_CHANNEL) return;
      this.heard++;
      if (n.payload && (n.payload === t.sessionId || n.payload === t.nameKeyOf())) t.onRing();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${RING_CHANNEL}`);
    } catch (e) {
      client.removeAllListeners('end');
      client.on('error', () => {});
      await client.end().catch(() => {});
      throw e;
    }
    // A doorbell never keeps the process alive on its own.
    (client as unknown as { connection?: { stream?: { unref?: () => void } } }).connection?.stream?.unref?.();
    if (this.closed) { await client.end().catch(() => {}); return; }
    this.client = client;
    this.heard++;
    this.backoff = BACKOFF_MIN_MS;
    this.onStateChange('listening');
  }

  /** Whether a LISTEN connection is up (every ring committed meanwhile reaches it). */
  get listening(): boolean {
    return this.client !== undefined;
  }

  private lost(client: pg.Client, why: string): void {
    if (this.client !== client) return;
    this.client = undefined;
    client.end().catch(() => {});
    if (this.closed) return;
    this.onStateChange('lost', why);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    const wait = this.backoff + Math.random() * this.backoff;
    this.backoff = Math.min(this.backoff * 2, BACKOFF_MAX_MS);
    this.reconnectTimer = setTimeout(async () => {
      this.reconnectTimer = undefined;
      try {
        await this.connect();
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
    const client = this.client;
    if (!client) return;
    const timer = setTimeout(() => this.lost(client, 'health check timed out'), HEALTH_TIMEOUT_MS);
    client.query('SELECT 1').then(() => clearTimeout(timer), () => { clearTimeout(timer); this.lost(client, 'health check failed'); });
  }

  /** The store already rang at commit (see above). */
  ring(_sessions: readonly Pick<SessionRow, 'id' | 'name_key' | 'doorbell'>[]): void {}

  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.healthTimer) clearInterval(this.healthTimer);
    const c = this.client;
    this.client = undefined;
    if (c) await c.end().catch(() => {});
  }
}
