/** Picks the doorbell: the store's own (LISTEN/NOTIFY), a Unix socket per session, or none. */
import type { Config } from '../config.js';
import type { Store } from '../store/types.js';
import { silentDoorbell, type Doorbell } from './doorbell.js';
import { UnixSocketDoorbell, doorbellDir } from './unix-socket.js';

export function openDoorbell(cfg: Config, store: Store): Doorbell {
  if (!cfg.wake) return silentDoorbell;
  if (store.createDoorbell) return store.createDoorbell();
  return new UnixSocketDoorbell(doorbellDir(cfg.home));
}
