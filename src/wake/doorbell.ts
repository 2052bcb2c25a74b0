/**
 * A doorbell only shortens the wait: the store is the truth and the fallback poll always runs.
 * A lost ring costs at most one poll period, never a message.
 */

/** Who to ring: a session's id, the name it holds, and the address it recorded. */
export interface RingTarget {
  id: string;
  name_key: string | null;
  doorbell: string | null;
}

export interface Doorbell {
  /** The address recorded with the session row (before listening, so a cleaner never races it). */
  addressFor(sessionId: string): string | null;
  /** Starts listening for rings meant for this session (by id, or by its current name's key). */
  listen(sessionId: string, nameKeyOf: () => string | null, onRing: () => void): Promise<void>;
  /** Rings the given sessions (best effort, never throws, never waits). */
  ring(sessions: readonly RingTarget[]): void;
  /**
   * A number that moves whenever a ring for anyone may have been missed or heard, so an idle poll
   * can skip its queries while it stands still; undefined where the doorbell cannot tell.
   */
  changes(): number | undefined;
  close(): Promise<void>;
}

/** The doorbell used when the wake path is off: nothing rings, the poll delivers. */
export const silentDoorbell: Doorbell = {
  addressFor: () => null,
  listen: async () => {},
  ring: () => {},
  changes: () => undefined,
  close: async () => {},
};
