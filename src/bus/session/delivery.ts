/**
 * A session's delivery loop. On the channel path, waiting mail is pushed to the session's target
 * in order, and each message is marked delivered only after the target has it (written to the
 * client's pipe). On the hook path the loop only rings the agent's bell while mail waits: the
 * agent's hook claims and shows it (src/delivery/). On the pull path nothing is handed over. A crash in between delivers that message again rather than losing it; a
 * restarted server never hands over a row already marked. Rings, polls and handshakes all end
 * up in kick(), and kicks that come while a drain runs coalesce into one more round.
 */
import type { Behavior, MessageRow, SessionRow } from '../../store/types.js';
import type { BusCore } from '../core.js';

/** Where a session's mail goes (the channel server's notifications). */
export interface DeliveryTarget {
  pushMessage(content: string, meta: Record<string, string>): Promise<void>;
  pushVerdict(requestId: string, behavior: Behavior): Promise<void>;
}

const DRAIN_BATCH = 200;

/** The envelope of a message: the sender's validated fields first, the bus's own written over them. */
export function envelope(m: MessageRow, recipientName: string): Record<string, string> {
  const meta: Record<string, string> = {};
  if (m.priority) meta.priority = m.priority;
  if (m.message_type) meta.message_type = m.message_type;
  if (m.thread_id) meta.thread_id = m.thread_id;
  if (m.kind !== 'dm') meta.kind = m.kind;
  Object.assign(meta, {
    from_session: m.from_name,
    to_session: recipientName,
    message_id: m.id,
    sent_at: new Date(m.sent_at).toISOString(),
    sender_kind: m.sender_kind,
  });
  return meta;
}

export class Delivery {
  private draining = false;
  private again = false;
  private stopped = false;
  private target?: DeliveryTarget;
  /** Whether the target shows messages (a Claude Code started without the channel flag does not). */
  private canPush = false;
  /** Where pushes are not seen: the agent's bell, rung while mail waits (the hook path). */
  private bell?: { ring(): void };
  /**
   * Permission requests of this session not yet answered back to it: only then does a drain ask
   * the store for verdicts (one query less per message otherwise).
   */
  verdictsAwaited = 0;
  /**
   * Messages this client has but whose mark failed because the session was ended under it (judged
   * dead by a stale heartbeat while it pushed). When it rejoins they are pending again: marked,
   * not pushed twice. Entries are removed once marked.
   */
  private readonly pushedUnmarked = new Set<number>();

  constructor(
    private readonly core: BusCore,
    private readonly session: () => SessionRow,
    private readonly onError: (e: unknown) => void,
  ) {}

  /** From now on mail goes to `target`, or rings `bell` (nothing happens before the client's handshake). */
  activate(target: DeliveryTarget, canPush: boolean, bell?: { ring(): void }): void {
    this.target = target;
    this.canPush = canPush;
    this.bell = canPush ? undefined : bell;
    this.kick();
  }

  get active(): boolean {
    return this.target !== undefined;
  }

  /** Starts a drain, or asks the running one to go round again (rings coalesce). */
  kick(): void {
    if (this.stopped || !this.target) return;
    if (this.draining) {
      this.again = true;
      return;
    }
    this.drain().catch((e) => this.onError(e));
  }

  private async drain(): Promise<void> {
    const target = this.target!;
    this.draining = true;
    try {
      do {
        this.again = false;
        if (this.verdictsAwaited > 0) await this.deliverVerdicts(target);
        if (this.canPush) await this.deliverMail(target);
        else if (this.bell && (await this.core.store.countPending(this.session().name_key!, this.core.now())) > 0) this.bell.ring();
      } while (this.again && !this.stopped);
    } finally {
      this.draining = false;
    }
  }

  private async deliverVerdicts(target: DeliveryTarget): Promise<void> {
    const { store } = this.core;
    for (const v of await store.verdictsToNotify(this.session().id)) {
      await target.pushVerdict(v.request_id, v.state as Behavior);
      await store.markVerdictNotified(v.id, this.core.now());
      this.verdictsAwaited--;
    }
  }

  private async deliverMail(target: DeliveryTarget): Promise<void> {
    const { store } = this.core;
    for (;;) {
      const row = this.session();
      const batch = await store.pendingFor(row.name_key!, row.id, DRAIN_BATCH, this.core.now());
      for (const { message, delivery } of batch) {
        if (this.stopped) return;
        if (!this.pushedUnmarked.has(message.seq)) await target.pushMessage(message.content, envelope(message, row.name!));
        if (await store.markDelivered(message.seq, delivery.recipient_key, row.id, 'push', this.core.now()))
          this.pushedUnmarked.delete(message.seq);
        else this.pushedUnmarked.add(message.seq);
      }
      if (batch.length < DRAIN_BATCH) return;
    }
  }

  stop(): void {
    this.stopped = true;
  }
}
