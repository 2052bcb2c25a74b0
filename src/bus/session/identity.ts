/**
 * A session's identity: the name it claims at start (from its launch environment, or an
 * automatic one), the name it takes back after another host ended it, and a rename through the
 * register tool. Every claim runs the claim plan (../claim.ts) in one store transaction.
 */
import { randomBytes } from 'node:crypto';
import { basename } from 'node:path';
import { CcDmError } from '../../errors.js';
import { checkName, checkProject, checkRole, isReservedName, nameKey, RESERVED_RULE } from '../../names.js';
import type { Agent, DeliveryPath, NameSource, NewSession, Presence, SessionRow, Wake } from '../../store/types.js';
import { claimPlan, claimRules, type ClaimRequest } from '../claim.js';
import type { BusCore } from '../core.js';
import { sessionId } from '../ids.js';
import { processStart } from '../../procfs.js';

export interface StartOptions {
  cwd: string;
  /** Whether the client shows pushes, as far as is known at start (the handshake may say more). */
  canPush: boolean;
  client: string | null;
  /** The server's process and its parent (the agent CLI): liveness is theirs. */
  pid?: number;
  ppid?: number;
  /** The agent CLI running this session, and its process (its hooks carry that pid). */
  agent?: Agent | null;
  agentPid?: number | null;
  /** The delivery path known at start: channel where pushes are seen, else pull until the agent's hooks bind. */
  path?: DeliveryPath;
  /** The agent's own id of this session when known at start (a Codex thread bound before its session started). */
  agentSession?: string | null;
  /** How the session is woken when idle, when known at start. */
  wake?: Wake | null;
  /**
   * The name to claim when the launch environment gives none that belongs to this session (a
   * Codex thread of the shared daemon, whose environment is another TUI's): claimed as an
   * automatic name, so the same thread resumed takes it back.
   */
  autoName?: string;
  /** What the agent is doing at start, when known (a Codex thread bound by its first tool call is working). */
  presence?: Presence;
}

export interface RegisterResult {
  success: true;
  name: string;
  role: string;
  project: string | null;
  previous_name?: string;
  note?: string;
}

function autoName(cwd: string): string {
  let base =
    basename(cwd)
      .replace(/[^A-Za-z0-9._-]/g, '-')
      .replace(/^[^A-Za-z0-9]+/, '')
      .slice(0, 40) || 'session';
  // A folder called "human" or "system-x" must not give a name that reads as the human or the system.
  if (isReservedName(`${base}-x`)) base = `session-${base}`;
  return `${base}-${randomBytes(2).toString('hex')}`;
}

async function claim(core: BusCore, req: ClaimRequest, source: NameSource): Promise<SessionRow> {
  const r = await core.store.claim(() => claimPlan(req, claimRules(source), core.isAlive));
  if (!r.ok) throw new CcDmError(r.code, r.message);
  return r.session;
}

/** A new session row holding the launch name (or a reported variant of it). */
export async function claimAtStart(core: BusCore, o: StartOptions): Promise<SessionRow> {
  const cfg = core.config;
  const wanted = cfg.sessionName ?? o.autoName ?? autoName(o.cwd);
  if (isReservedName(wanted)) {
    throw new CcDmError(
      'E_CONFIG',
      `CC_DM_SESSION_NAME=${wanted} is a reserved word: it reads as the human or the system (reserved: ${RESERVED_RULE}). Choose another name.`,
    );
  }
  const id = sessionId();
  const now = core.now();
  const pid = o.pid ?? process.pid;
  const ppid = o.ppid ?? process.ppid;
  const source: NameSource = cfg.sessionName ? 'env' : 'auto';
  const newSession: NewSession = {
    id,
    role: cfg.role ?? null,
    project: cfg.project ?? null,
    cwd: o.cwd,
    host: cfg.host,
    pid,
    ppid,
    pid_start: processStart(pid),
    ppid_start: processStart(ppid),
    can_push: o.canPush,
    client: o.client,
    doorbell: core.doorbell.addressFor(id),
    started_at: now,
    last_active_at: now,
    heartbeat_at: now,
    machine: core.machine,
    heartbeat_expiry_ms: core.heartbeat().expiryMs,
    agent: o.agent ?? null,
    agent_pid: o.agentPid ?? null,
    path: o.path ?? (o.canPush ? 'channel' : 'pull'),
    agent_session: o.agentSession ?? null,
    wake: o.wake ?? null,
  };
  return claim(core, { sessionId: id, name: wanted, source, newSession, at: now }, source);
}

/**
 * Across machines a session is alive while its heartbeat is fresh. One that was frozen (or cut
 * off from the database) past the expiry was ended by another host, and its name may have been
 * taken back by a successor: it must not go on receiving and sending as that name. So it joins
 * again as a new session, under the launch rules: its name if nobody took it, else a variant.
 */
export async function rejoin(core: BusCore, row: SessionRow): Promise<SessionRow> {
  const { name, name_key: _k, name_source: _s, wanted_name: _w, ended_at: _e, end_reason: _r, history_since: _h, ...rest } = row;
  const id = sessionId();
  const now = core.now();
  const source: NameSource = row.name_source === 'variant' ? (core.config.sessionName ? 'env' : 'auto') : (row.name_source ?? 'auto');
  return claim(
    core,
    {
      sessionId: id,
      name: row.wanted_name ?? name!,
      source,
      at: now,
      newSession: { ...rest, id, doorbell: core.doorbell.addressFor(id), started_at: now, last_active_at: now, heartbeat_at: now },
    },
    'env',
  );
}

/**
 * The register tool: a new name (the old one is released) and/or a role and project. What the
 * human set at launch binds: a project from CC_DM_SESSION_PROJECT cannot be changed (that would
 * leave its scope), and the launch role alone decides whether this session may broadcast.
 */
export async function rename(
  core: BusCore,
  row: SessionRow,
  args: { name: string; role: string; project?: string },
  /** Called once the arguments are valid, before the store is touched (the rate limit). */
  admit: () => void = () => {},
): Promise<{ row: SessionRow; result: RegisterResult }> {
  const name = checkName(args.name);
  const role = checkRole(args.role);
  const project = args.project !== undefined ? checkProject(args.project) : row.project;
  const launchProject = core.config.project;
  if (launchProject && project !== launchProject) {
    throw new CcDmError(
      'E_FORBIDDEN',
      `this session's project "${launchProject}" was set at launch (CC_DM_SESSION_PROJECT) and cannot be changed with register; leave project out, or give "${launchProject}".`,
    );
  }
  admit();
  const key = nameKey(name);
  if (isReservedName(key))
    throw new CcDmError('E_NAME_RESERVED', `"${name}" reads as the human or the system (reserved: ${RESERVED_RULE}); pick another name.`);
  // The approver the human named at launch is not a name to squat: a session holding it through
  // register has no approval rights, and the real approver would start under a variant.
  const approver = core.config.permissionApprover;
  if (approver && nameKey(approver) === key) {
    throw new CcDmError(
      'E_NAME_RESERVED',
      `"${name}" is the permission approver named at launch (CC_DM_PERMISSION_APPROVER): only a session launched with that name holds it. Pick another name.`,
    );
  }
  const previous = row.name!;
  const identity = { role, project: project ?? null };
  let next: SessionRow;
  if (key !== row.name_key) {
    // The name, role and project change in one transaction: no moment where the store has the
    // new name and this session still answers to the old one.
    next = await claim(
      core,
      { sessionId: row.id, name, source: 'register', releasing: row.name_key!, releasingSource: row.name_source, identity, at: core.now() },
      'register',
    );
  } else {
    await core.store.updateSession(row.id, identity);
    next = { ...row, ...identity };
  }
  const renamed = previous !== next.name;
  return {
    row: next,
    result: {
      success: true,
      name: next.name!,
      role,
      project: project ?? null,
      previous_name: renamed ? previous : undefined,
      note: renamed
        ? `"${previous}" is released: mail to it now fails with a pointer to "${next.name}". Names taken with register never carry permission-approval rights.`
        : undefined,
    },
  };
}
