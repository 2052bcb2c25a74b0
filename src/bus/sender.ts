/** Who sends: a session, stamped from its own row (never from arguments), the human, or cc-dm itself. */
import type { SessionRow } from '../store/types.js';

/** Who is sending: a session (stamped from its own row, never from arguments), the human, or cc-dm's own notices. */
export type Sender = { kind: 'session'; session: SessionRow; policy: SenderPolicy } | { kind: 'human' } | { kind: 'system' };

/** A session's own access rules, read from its launch environment. */
export interface SenderPolicy {
  /** The role given at launch (CC_DM_SESSION_ROLE): broadcast rights go by it, not by a role set later. */
  launchRole?: string;
  broadcastAllowedRoles?: readonly string[];
  dmAllowlist?: readonly string[];
  dmBlocklist?: readonly string[];
}

export const HUMAN = { name: 'human', key: 'human' } as const;
/** cc-dm's own notices (a recipient became idle): a reserved name no session can hold. */
export const SYSTEM = { name: 'cc-dm', key: 'cc-dm' } as const;

/** The sender's name, key, project and session, as the bus stamps them. */
export interface SenderName {
  name: string;
  key: string;
  project: string | null;
  session: string | null;
  /** Since when the name is this sender's (a name taken with register starts with no past); null: all of it. */
  since: number | null;
}

export function senderName(from: Sender): SenderName {
  if (from.kind === 'human') return { name: HUMAN.name, key: HUMAN.key, project: null, session: null, since: null };
  if (from.kind === 'system') return { name: SYSTEM.name, key: SYSTEM.key, project: null, session: null, since: null };
  const s = from.session;
  return { name: s.name!, key: s.name_key!, project: s.project, session: s.id, since: s.history_since };
}
