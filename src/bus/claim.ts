/**
 * Who may hold a name (DESIGN.md, "Identity and authority"). Pure rules, applied by the store
 * inside its write transaction so that of two racing processes exactly one wins.
 */
import { RESERVED_NAMES } from './names.js';
import type { ClaimDecider, NameSource } from '../store/types.js';

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
      if (name?.reserved || (name && RESERVED_NAMES.has(name.key))) {
        return { kind: 'refuse', code: 'E_NAME_RESERVED', message: `the name "${display}" is reserved by the human (cc-dm reserve) and cannot be taken with register. Pick another name.` };
      }
      if (holderAlive) {
        return { kind: 'refuse', code: 'E_NAME_TAKEN', message: `the name "${display}" is held by a live session (since ${new Date(holder!.started_at).toISOString()}). Pick another name.` };
      }
      // A name some session held (and did not give up) is its mailbox; so is a name with mail
      // queued for it, even before any session has held it. A name only ever reserved is not.
      if ((name && !name.released_to && name.last_held_at !== null) || queued > 0) {
        return {
          kind: 'refuse', code: 'E_NAME_TAKEN',
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
