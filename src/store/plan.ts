/**
 * Carrying out a claim plan (bus/claim.ts): the plan yields steps and receives their results.
 * SQLite runs it synchronously inside one transaction (a better-sqlite3 transaction must not
 * yield to the event loop); PostgreSQL awaits each step on the transaction's connection.
 */
import type { AsyncClaimSteps, ClaimPlan, ClaimSteps } from './types.js';

type AnyStep = (...args: unknown[]) => unknown;

export function runPlan<R>(plan: ClaimPlan<R>, steps: ClaimSteps): R {
  for (let r = plan.next(); ;) {
    if (r.done) return r.value;
    r = plan.next((steps[r.value.step] as AnyStep)(...r.value.args));
  }
}

export async function runPlanAsync<R>(plan: ClaimPlan<R>, steps: AsyncClaimSteps): Promise<R> {
  for (let r = plan.next(); ;) {
    if (r.done) return r.value;
    r = plan.next(await (steps[r.value.step] as AnyStep)(...r.value.args));
  }
}
