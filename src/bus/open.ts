/** Opens a bus: the store the configuration selects, and the doorbell that goes with it. */
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { openStore } from '../store/open.js';
import { openDoorbell } from '../wake/open.js';
import { Bus } from './bus.js';
import { BusCore, type Clock } from './core.js';

export interface OpenBusOptions {
  log: Logger;
  /** The clock (tests backdate through it). */
  clock?: Clock;
  /** Where this process runs (tests stand for other machines with it); default procfs.machineId(). */
  machine?: string;
}

export async function openBus(cfg: Config, o: OpenBusOptions): Promise<Bus> {
  const store = await openStore(cfg, (m) => o.log.warn(m));
  return new Bus(new BusCore(store, cfg, openDoorbell(cfg, store, o.log), o.log, o.clock, o.machine));
}
