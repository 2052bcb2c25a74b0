/**
 * What one session may keep waiting in other sessions' mailboxes: at most so many deliveries and
 * so many bytes still queued (CC_DM_QUEUE_MAX_MESSAGES, CC_DM_QUEUE_MAX_BYTES). The rate limit
 * bounds how fast a looping model sends; this bounds what it can pile up in the store (mail to a
 * session that is down waits up to 7 days, and prune keeps waiting mail).
 *
 * Checking the store on every send would cost a query per dm, so the session counts what it
 * queued since its last look: the store can only have less waiting than that (deliveries and
 * expiry only take mail out), so the store is asked again only when the count would pass a limit.
 */
import { CcDmError } from '../errors.js';
import type { BusCore } from './core.js';
import type { Step } from './send.js';

export class QueueQuota {
  /** Waiting at the last look, plus what was admitted since. */
  private count = 0;
  private bytes = 0;
  private looked = false;

  constructor(
    private readonly core: BusCore,
    private readonly sessionId: () => string,
  ) {}

  /** Lets a prepared send through if it keeps this session within its limits; E_QUOTA otherwise. */
  async admit<R>(step: Step<R>): Promise<Step<R>> {
    if ('run' in step) return step;
    const n = step.mail.recipients.length;
    const b = Buffer.byteLength(step.mail.message.content, 'utf8') * n;
    const { queueMaxMessages: maxN, queueMaxBytes: maxB } = this.core.config;
    if (!this.looked || this.count + n > maxN || this.bytes + b > maxB) {
      const now = await this.core.store.queuedBy(this.sessionId(), this.core.now());
      this.count = now.count;
      this.bytes = now.bytes;
      this.looked = true;
      if (this.count + n > maxN || this.bytes + b > maxB) {
        throw new CcDmError(
          'E_QUOTA',
          `you already have ${this.count} message(s) (${(this.bytes / 1048576).toFixed(1)} MiB) waiting in mailboxes of sessions that have not read them; the limit is ${maxN} messages and ${(maxB / 1048576).toFixed(1)} MiB (CC_DM_QUEUE_MAX_MESSAGES, CC_DM_QUEUE_MAX_BYTES). Wait until they are read (status shows where a message is), or send less.`,
        );
      }
    }
    this.count += n;
    this.bytes += b;
    return step;
  }
}
