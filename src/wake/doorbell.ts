/**
 * A doorbell only shortens the wait: the store is the truth and the fallback poll always runs.
 * A lost ring costs at most one poll period, never a message.
 */
import type { SessionRow } from '../store/types.js';

export interface Doorbell {
  /** The address recorded with the session row (before listening, so a cleaner never races it). */
  addressFor(sessionId: string): string | null;
  /** Starts listening for rings meant for this session (by id, or by its current name's key). */
  listen(sessionId: string, nameKeyOf: () => string | null, onRing: () => void): Promise<void>;
  /** Rings the given sessions (best effort, never throws, never waits). */
  ring(sessions: readonly Pick<SessionRow, 'id' | 'name_key' | 'doorbell'>[]): void;
  close(): Promise<void>;
}

/** The doorbell used when the wake path is off: nothing rings, the poll delivers. */
export const silentDoorbell: Doorbell = {
  addressFor: () => null,
  listen: async () => {},
  ring: () => {},
  close: async () => {},
};
