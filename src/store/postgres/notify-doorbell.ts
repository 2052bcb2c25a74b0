/**
 * The PostgreSQL store's doorbell: LISTEN/NOTIFY on one channel per database. A ring is a
 * NOTIFY whose payload is the recipient's session id (or name key); each server keeps one
 * dedicated connection LISTENing and reads its mailbox when a payload is its own.
 *
 * NOTIFY is only a latency hint (as pg-boss says): the tables are the truth and the fallback
 * poll always runs. Notifications sent while the LISTEN connection is down are lost, so after a
 * reconnect the server LISTENs again and reads its mailbox at once. A LISTEN connection can
 * also die silently (a machine or NAT gone): a cheap query every 30 s finds that out.
 */
import type pg from 'pg';
import type { Doorbell } from '../../wake/doorbell.js';
import type { SessionRow } from '../types.js';

export const RING_CHANNEL = 'cc_dm_ring';
/** What a session row records as its doorbell: rings go through the database it is in. */
export const NOTIFY_ADDRESS = `pg:${RING_CHANNEL}`;

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
  private pending = new Set<Promise<void>>();
  private target?: { sessionId: string; nameKeyOf: () => string | null; onRing: () => void };
  /** Times the LISTEN connection was re-established (the fault tests read it from the log). */
  reconnects = 0;
  onStateChange: (state: 'listening' | 'lost', detail?: string) => void = () => {};

  constructor(
    private readonly newClient: () => pg.Client,
    private readonly notify: (sql: string, args: unknown[]) => Promise<void>,
  ) {}

  addressFor(): string {
    return NOTIFY_ADDRESS;
  }

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
      if (n.payload === t.sessionId || (n.payload && n.payload === t.nameKeyOf())) t.onRing();
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

  ring(sessions: readonly Pick<SessionRow, 'id' | 'name_key' | 'doorbell'>[]): void {
    const ids = sessions.filter((s) => s.doorbell === null || s.doorbell === NOTIFY_ADDRESS).map((s) => s.id);
    if (ids.length === 0 || this.closed) return;
    // One statement for all recipients; a failure is a lost ring (the poll delivers).
    const p = this.notify(`SELECT pg_notify('${RING_CHANNEL}', x) FROM unnest($1::text[]) AS x`, [ids]).catch(() => {});
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  async close(): Promise<void> {
    // Rings already sent are flushed first (a CLI command closes right after sending).
    await Promise.all([...this.pending]);
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.healthTimer) clearInterval(this.healthTimer);
    const c = this.client;
    this.client = undefined;
    if (c) await c.end().catch(() => {});
  }
}
