/**
 * Who may hold a name (DESIGN.md, "Identity and authority"): the rules as a pure decider, and
 * the claim plan that applies them to the name and its numbered variants. The store runs the
 * plan inside one write transaction (store/plan.ts), so of two racing processes exactly one wins;
 * a backend only carries out the plan's steps.
 */
import { CcDmError } from '../errors.js';
import { isReservedName, nameKey } from '../names.js';
import type { CandidateState, ClaimCall, ClaimPlan, ClaimSteps, NameSource, NewSession, SessionRow } from '../store/types.js';

/** A candidate as the rules see it: the name asked for, or a numbered variant tried after it was held. */
export interface ClaimState extends CandidateState {
  candidate: 'wanted' | 'variant';
}

export type ClaimDecision =
  | { kind: 'take'; endHolder?: string }
  | { kind: 'variant' }
  | { kind: 'refuse'; code: 'E_NAME_TAKEN' | 'E_NAME_RESERVED'; message: string };

export type ClaimDecider = (state: ClaimState, isAlive: (s: SessionRow) => boolean) => ClaimDecision;

export function claimRules(source: NameSource): ClaimDecider {
  return ({ candidate, name, holder, queued }, isAlive) => {
    const holderAlive = holder !== undefined && isAlive(holder);
    const endHolder = holder && !holderAlive ? holder.id : undefined;
    if (candidate === 'variant') {
      // A variant never lands in somebody's reserved name or waiting mailbox.
      if (holderAlive || name?.reserved || (name && !name.released_to && queued > 0)) return { kind: 'variant' };
      return { kind: 'take', endHolder };
    }
    if (source === 'register') {
      const display = name?.display ?? '';
      if (name?.reserved || (name && isReservedName(name.key))) {
        return {
          kind: 'refuse',
          code: 'E_NAME_RESERVED',
          message: `the name "${display}" is reserved by the human (cc-dm reserve) and cannot be taken with register. Pick another name.`,
        };
      }
      if (holderAlive) {
        return {
          kind: 'refuse',
          code: 'E_NAME_TAKEN',
          message: `the name "${display}" is held by a live session (since ${new Date(holder!.started_at).toISOString()}). Pick another name.`,
        };
      }
      // A name some session held (and did not give up) is its mailbox; so is a name with mail
      // queued for it, even before any session has held it. A name only ever reserved is not.
      if ((name && !name.released_to && name.last_held_at !== null) || queued > 0) {
        return {
          kind: 'refuse',
          code: 'E_NAME_TAKEN',
          message: `the name "${display}" belongs to a session that ended and keeps it as its mailbox. Only a session launched with CC_DM_SESSION_NAME=${display} can take it back; pick another name.`,
        };
      }
      return { kind: 'take', endHolder };
    }
    // From the launch environment (or an automatic name): a dead holder's name is taken back at once.
    if (holderAlive) return { kind: 'variant' };
    return { kind: 'take', endHolder };
  };
}

export interface ClaimRequest {
  sessionId: string;
  name: string;
  source: NameSource;
  /** Inserted in the same transaction as the claim (start); absent for a rename. */
  newSession?: NewSession;
  /** A rename: this name is released (it says what it is called now) and its queued mail follows. */
  releasing?: string;
  /** A rename's new role and project, set in the same transaction as the name. */
  identity?: { role: string | null; project: string | null };
  /** How the released name was taken: one taken with register, never written to, is collected. */
  releasingSource?: NameSource | null;
  at: number;
}

export type ClaimResult =
  | { ok: true; session: SessionRow; variantOf?: string; tookOverFrom?: string }
  | { ok: false; code: 'E_NAME_TAKEN' | 'E_NAME_RESERVED'; message: string };

/** Variants tried after the name itself: `name-2` ... `name-100`. */
const MAX_VARIANT = 100;
const TAKEN_BACK = 'process gone; name taken back';

/** One step of the plan, typed by the step's own signature. */
function* step<K extends keyof ClaimSteps>(
  name: K,
  ...args: Parameters<ClaimSteps[K]>
): Generator<ClaimCall, ReturnType<ClaimSteps[K]>, unknown> {
  return (yield { step: name, args } as ClaimCall) as ReturnType<ClaimSteps[K]>;
}

/**
 * The claim: the name asked for, then its variants, each decided by the rules on what the
 * transaction sees. A refusal of a new session throws, so its row is rolled back with it.
 */
export function* claimPlan(req: ClaimRequest, decide: ClaimDecider, isAlive: (s: SessionRow) => boolean): ClaimPlan<ClaimResult> {
  if (req.newSession) yield* step('insertSession', req.newSession);
  const wanted = req.name.trim();
  for (let n = 1; n <= MAX_VARIANT; n++) {
    const display = n === 1 ? wanted : `${wanted}-${n}`;
    const key = nameKey(display);
    const state = yield* step('candidate', key, req.sessionId);
    const d = decide({ candidate: n === 1 ? 'wanted' : 'variant', ...state }, isAlive);
    if (d.kind === 'variant') continue;
    if (d.kind === 'refuse') {
      if (req.newSession) throw new CcDmError(d.code, d.message);
      return { ok: false, code: d.code, message: d.message };
    }
    if (d.endHolder) yield* step('endSession', d.endHolder, TAKEN_BACK, req.at);
    const source = n === 1 ? req.source : 'variant';
    // A name taken with register, or a variant, starts with no past; the launch name keeps its own.
    const historySince = source === 'register' || source === 'variant' ? req.at : null;
    const session = yield* step('take', {
      sessionId: req.sessionId,
      display,
      key,
      source,
      wanted: n === 1 ? null : wanted,
      at: req.at,
      identity: req.identity,
      historySince,
    });
    if (req.releasing && req.releasing !== key) {
      // A launch name keeps its pointer (the human handed it out); one taken with register and
      // never written to leaves nothing behind.
      const collect = req.releasingSource === 'register';
      yield* step('release', { fromKey: req.releasing, toKey: key, toDisplay: display, collect });
    }
    return { ok: true, session, variantOf: n === 1 ? undefined : wanted, tookOverFrom: d.endHolder };
  }
  throw new CcDmError(
    'E_NAME_TAKEN',
    `"${wanted}" and its variants up to -${MAX_VARIANT} are all held; choose another CC_DM_SESSION_NAME.`,
  );
}
