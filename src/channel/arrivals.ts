/**
 * Waiting on what an MCP client has received (pushes, verdicts): a condition is checked again at
 * each arrival, and at least every 200 ms, until a deadline. Shared by the demo's and tests'
 * `Peer` and the bench's client.
 */
export class Arrivals {
  private waiters: (() => void)[] = [];

  /** Something arrived: every wait checks its condition again. */
  arrived(): void {
    const w = this.waiters;
    this.waiters = [];
    w.forEach((f) => f());
  }

  /** Resolves when `holds()` is true, or rejects after `ms` naming what was awaited and what came. */
  async until(holds: () => boolean, ms: number, what: string, got: () => string): Promise<void> {
    const deadline = Date.now() + ms;
    while (!holds()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for ${what} (got ${got()})`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
}
