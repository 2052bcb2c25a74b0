/**
 * The session's side of the permission relay: Claude Code asks this session's server whether a
 * tool may run; the request is recorded and relayed as mail to the approver the human named at
 * launch (or waits for the human). The verdict comes back through the delivery loop.
 */
import { nameKey } from '../../names.js';
import type { PermissionRow, SessionRow } from '../../store/types.js';
import type { BusCore } from '../core.js';
import { newMail, perform } from '../send.js';
import { senderName, type Sender } from '../sender.js';

export interface PermissionRequest {
  request_id: string;
  tool_name: string;
  description: string;
  input_preview: string;
}

export async function requestPermission(core: BusCore, row: SessionRow, from: Sender, p: PermissionRequest): Promise<PermissionRow> {
  const cfg = core.config;
  const approverKey = cfg.permissionApprover ? nameKey(cfg.permissionApprover) : null;
  const perm = await core.store.createPermission({
    request_id: p.request_id.toLowerCase(),
    requester_key: row.name_key!,
    requester_name: row.name!,
    requester_session: row.id,
    approver_key: approverKey,
    tool_name: p.tool_name,
    description: p.description,
    input_preview: p.input_preview,
    created_at: core.now(),
  });
  if (approverKey && approverKey !== row.name_key) {
    const content = [
      `Permission request ${perm.request_id} from "${row.name}": Claude Code asks to run the tool ${p.tool_name}.`,
      p.description ? `Description: ${p.description}` : '',
      p.input_preview ? `Input: ${p.input_preview}` : '',
      `You are this session's approver. To answer, call dm with to: "${row.name}" and content exactly "yes ${perm.request_id}" to allow or "no ${perm.request_id}" to deny.`,
    ]
      .filter(Boolean)
      .join('\n');
    const holder = await core.liveHolder(approverKey);
    await perform(core, {
      mail: newMail(
        core,
        from,
        senderName(from),
        'permission_request',
        cfg.permissionApprover!,
        { content, priority: 'urgent', message_type: 'question', thread_id: `perm:${perm.request_id}`, ttl_s: 3600 },
        [{ key: approverKey, display: holder?.name ?? cfg.permissionApprover! }],
      ),
      ring: holder ? [holder] : [],
      result: () => undefined,
    });
  }
  return perm;
}
