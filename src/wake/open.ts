/** Picks the doorbell: the store's own rings (LISTEN/NOTIFY), a Unix socket per session, or none. */
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/types.js';
import { silentDoorbell, type Doorbell } from './doorbell.js';
import { NotifyDoorbell } from './notify-doorbell.js';
import { UnixSocketDoorbell } from './unix-socket.js';

export function openDoorbell(cfg: Config, store: Pick<Store, 'capabilities' | 'listen'>, log: Logger): Doorbell {
  if (!cfg.wake) return silentDoorbell;
  if (store.capabilities.ring === 'notify') return new NotifyDoorbell(() => store.listen(), log);
  return new UnixSocketDoorbell(cfg.home, (m) => log.warn(m));
}
