/**
 * The PostgreSQL store's doorbell: LISTEN/NOTIFY, one channel per session (`ccdm_<session id>`,
 * so a server hears only its own rings, not every delivery in the database). Each server keeps
 * one dedicated connection LISTENing and reads its mailbox when it hears a ring.
 *
 * The store itself rings, inside the statement that writes the mail (insertMessage) or the
 * verdict (decidePermission): PostgreSQL delivers the NOTIFY at commit. So ring() here has
 * nothing left to do; a second NOTIFY would only cost a query and a second mailbox read.
 *
 * NOTIFY is only a latency hint (as pg-boss says): the tables are the truth and the fallback
 * poll always runs. Notifications sent while the LISTEN connection is down are lost, so after a
 * reconnect the server LISTENs again and reads its mailbox at once. A LISTEN connection can
 * also die silently (a machine or NAT gone): a cheap query every 30 s finds that out.
 */
import type pg from 'pg';
import type { Doorbell } from '../../wake/doorbell.js';
import type { SessionRow } from '../types.js';

/** A session's channel. Session ids are 32 hex digits, so the name needs no quoting (37 < 63 bytes). */
export function ringChannel(sessionId: string): string {
  return `ccdm_${sessionId.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`;
}

/** The same name computed in SQL, from an expression holding the session id. */
export function ringChannelSql(idExpr: string): string {
  return `'ccdm_' || regexp_replace(lower(${idExpr}), '[^a-z0-9_]', '_', 'g')`;
}

/** What a session row records as its doorbell: rings go through the database it is in. */
export const NOTIFY_ADDRESS = 'pg:notify';

const HEALTH_EVERY_MS = 30_000;
const HEALTH_TIMEOUT_MS = 5_000;
const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 2_000;

export class NotifyDoorbell implements Doorbell {
  private client?: pg.Client;
  private closed = false;
  private reconnectTimer?: NodeJS.Timeout;
  private healthTimer?: NodeJS.Timeout;
  private backoff = BACKOFF_MIN_MS;
  private target?: { sessionId: string; onRing: () => void };
  /** Times the LISTEN connection was re-established (the fault tests read it from the log). */
  reconnects = 0;
  onStateChange: (state: 'listening' | 'lost', detail?: string) => void = () => {};

  constructor(private readonly newClient: () => pg.Client) {}

  addressFor(): string {
    return NOTIFY_ADDRESS;
  }

  /** The session's own channel: rings follow the session, whatever its name (renames included). */
  async listen(sessionId: string, _nameKeyOf: () => string | null, onRing: () => void): Promise<void> {
    this.target = { sessionId, onRing };
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
    const channel = ringChannel(t.sessionId);
    client.on('notification', (n) => { if (n.channel === channel) t.onRing(); });
    try {
      await client.connect();
      await client.query(`LISTEN ${channel}`);
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
    this.backoff = BACKOFF_MIN_MS;
    this.onStateChange('listening');
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
