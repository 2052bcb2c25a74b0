/** Waiting in tests: bounded, and a failure names what did not happen. The one sleep and until of the tests. */
import { setTimeout as sleep } from 'node:timers/promises';

export { sleep };

/** Resolves once `cond` holds (polling every 20 ms), or fails after `ms` naming `what`. */
export async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}
