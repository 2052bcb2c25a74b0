/**
 * A session's sends are accepted one at a time, in the order the calls arrived, so calls a
 * client makes in parallel keep their order (on PostgreSQL, concurrent inserts on pooled
 * connections committed out of order: 79 of 300 pipelined dms in the benchmark). Sends that
 * are checked while others wait are stored together: one transaction for all the calls that
 * arrived together, or that came in while the previous commit ran (a group commit). A commit
 * was most of a dm's cost on SQLite (150 of 300 µs) and one fsync each on PostgreSQL.
 *
 * Results are as if each call ran alone: a check that fails while earlier sends wait to be
 * stored (mail queued for a new name makes it a mailbox, and a second dm may count on that) is
 * made again once they are stored; a verdict is recorded after the sends before it.
 */
import type { PreparedSend, Step } from './send.js';

/** At most this many sends per transaction, so that one commit never holds the store for long. */
const MAX_BATCH = 64;

interface Waiting {
  send: PreparedSend<unknown>;
  resolve(result: unknown): void;
  reject(e: unknown): void;
}

export class GroupCommit {
  /** Calls are checked one after the other, in arrival order. */
  private checking: Promise<void> = Promise.resolve();
  /** Calls submitted and not yet checked. */
  private unchecked = 0;
  private batch: Waiting[] = [];
  /** Sends taken from the batch by a commit that has not finished yet. */
  private inFlight = 0;
  /** The commit running or queued; commits run one after the other. */
  private committing: Promise<void> = Promise.resolve();
  private queued?: Promise<void>;
  private scheduled = false;

  constructor(private readonly commit: (sends: readonly PreparedSend<unknown>[]) => Promise<unknown[]>) {}

  submit<R>(prepare: () => Promise<Step<R>>): Promise<R> {
    this.unchecked++;
    return new Promise<R>((resolve, reject) => {
      this.checking = this.checking.then(async () => {
        try {
          let step: Step<R>;
          try {
            step = await prepare();
          } catch (e) {
            // Only a send not yet stored (waiting, or in a commit still running) can change the answer.
            if (this.batch.length === 0 && this.inFlight === 0) throw e;
            await this.flush();
            step = await prepare();
          }
          if ('run' in step) {
            await this.flush();
            resolve(await step.run());
            return;
          }
          this.batch.push({ send: step, resolve: resolve as (r: unknown) => void, reject });
          // A client pipelining without bound, on a store whose checks take round trips, does
          // not wait for all of its calls to be checked before the first are stored.
          if (this.batch.length >= MAX_BATCH) void this.flush();
        } catch (e) {
          reject(e);
        } finally {
          // Once every call that has arrived is checked, store the batch. Calls arriving in the
          // same turn of the event loop join it; calls arriving during a commit join the next.
          if (--this.unchecked === 0 && this.batch.length && !this.scheduled) {
            this.scheduled = true;
            process.nextTick(() => {
              this.scheduled = false;
              void this.flush();
            });
          }
        }
      });
    });
  }

  /** Stores everything checked so far (after the commit already running); resolves when done. */
  private flush(): Promise<void> {
    if (this.queued) return this.queued;
    const next = this.committing.then(async () => {
      this.queued = undefined;
      while (this.batch.length) {
        const batch = this.batch.splice(0, MAX_BATCH);
        this.inFlight += batch.length;
        try {
          const results = await this.commit(batch.map((w) => w.send));
          batch.forEach((w, i) => w.resolve(results[i]));
        } catch (e) {
          batch.forEach((w) => w.reject(e));
        } finally {
          this.inFlight -= batch.length;
        }
      }
    });
    this.queued = next;
    this.committing = next;
    return next;
  }
}
