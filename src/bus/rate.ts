/**
 * A per-sender token bucket: `perMinute` messages may go at once, refilled at `perMinute` per
 * minute. It stops a looping model from flooding its peers, and is far above what the heaviest
 * honest use needs (the benchmark's 2,000 back-to-back dms pass with the default of 6,000).
 */
import { CcDmError } from '../errors.js';

export class RateLimit {
  private tokens: number;
  private last: number;

  constructor(
    private readonly perMinute: number,
    now = Date.now(),
  ) {
    this.tokens = perMinute;
    this.last = now;
  }

  take(now = Date.now(), what = 'messages', setting = 'CC_DM_RATE_LIMIT'): void {
    this.tokens = Math.min(this.perMinute, this.tokens + ((now - this.last) * this.perMinute) / 60_000);
    this.last = now;
    if (this.tokens < 1) {
      const waitS = Math.ceil(((1 - this.tokens) * 60) / this.perMinute);
      throw new CcDmError(
        'E_RATE',
        what === 'messages'
          ? `you are sending faster than ${this.perMinute} messages a minute (${setting}); wait ${waitS} s and send again, or combine messages.`
          : `more than ${this.perMinute} ${what} a minute (${setting}); wait ${waitS} s and try again.`,
      );
    }
    this.tokens -= 1;
  }
}
