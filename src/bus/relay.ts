/**
 * Verdicts on relayed permission requests. Authority is decided by the human's launch
 * configuration, never by what a model can do: only the approver named in the requester's
 * launch environment, holding that name from its own launch environment, or the human.
 */
import { CcDmError } from '../errors.js';
import { nameKey } from '../names.js';
import type { Behavior, PermissionRow } from '../store/types.js';
import type { BusCore } from './core.js';
import { HUMAN, type Sender } from './sender.js';

export interface VerdictResult {
  success: true;
  permission_answered: { request_id: string; requester: string; behavior: Behavior };
  note: string;
}

export async function answerPermission(core: BusCore, from: Sender, perm: PermissionRow, behavior: Behavior): Promise<VerdictResult> {
  if (from.kind === 'session') {
    const s = from.session;
    if (s.name_key === perm.requester_key) throw new CcDmError('E_FORBIDDEN', 'a session never answers its own permission request.');
    if (!perm.approver_key || s.name_key !== perm.approver_key) {
      throw new CcDmError(
        'E_FORBIDDEN',
        `only ${perm.approver_key ? `"${perm.approver_key}" (the approver named at launch)` : 'the human'} or the human can answer permission request ${perm.request_id} of "${perm.requester_name}".`,
      );
    }
    if (s.name_source !== 'env') {
      throw new CcDmError(
        'E_FORBIDDEN',
        `you hold the name "${s.name}" through register, not from your launch environment; approval rights belong only to a session launched with CC_DM_SESSION_NAME=${s.name}.`,
      );
    }
  }
  if (from.kind === 'system') throw new CcDmError('E_FORBIDDEN', 'cc-dm itself never answers a permission request.');
  const by = from.kind === 'human' ? HUMAN.name : from.session.name!;
  const ok = await core.store.decidePermission(perm.id, behavior, by, from.kind, core.now());
  if (!ok) throw new CcDmError('E_NOT_FOUND', `permission request ${perm.request_id} of "${perm.requester_name}" was already answered.`);
  const requester = await core.store.getSession(perm.requester_session);
  if (requester) core.doorbell.ring([requester]);
  return {
    success: true,
    permission_answered: { request_id: perm.request_id, requester: perm.requester_name, behavior },
    note: `recorded: ${behavior} for ${perm.tool_name}. This reply was consumed as the answer and not delivered as text.`,
  };
}

/** The human's answer (CLI or console); `requester` disambiguates an id pending for several sessions. */
export async function humanVerdict(core: BusCore, requestId: string, behavior: Behavior, requester?: string): Promise<VerdictResult> {
  const id = requestId.trim().toLowerCase();
  const pending = (await core.store.listPermissions(true)).filter(
    (p) => p.request_id === id && (!requester || p.requester_key === nameKey(requester)),
  );
  if (pending.length === 0)
    throw new CcDmError(
      'E_NOT_FOUND',
      `no pending permission request "${requestId}"${requester ? ` from "${requester}"` : ''}. See cc-dm approvals.`,
    );
  if (pending.length > 1) {
    throw new CcDmError(
      'E_INVALID',
      `request "${requestId}" is pending for several sessions (${pending.map((p) => p.requester_name).join(', ')}): say which with --from <name>.`,
    );
  }
  return answerPermission(core, { kind: 'human' }, pending[0]!, behavior);
}
