/**
 * The one place that reads the environment. Everything else receives a validated, frozen
 * Config. Invalid settings are a clear error at start, never a surprise later.
 */
import { homedir, hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { CcDmError } from './errors.js';
import { checkName, checkRole, checkProject, nameKey } from './names.js';

export type PushMode = 'auto' | 'on' | 'off';

export interface Config {
  readonly home: string;
  readonly dbPath: string;
  readonly databaseUrl?: string;
  readonly storeKind: 'sqlite' | 'postgres';
  readonly host: string;
  readonly sessionName?: string;
  readonly role?: string;
  readonly project?: string;
  readonly permissionRelay: boolean;
  readonly permissionApprover?: string;
  readonly broadcastAllowedRoles?: readonly string[];
  readonly dmAllowlist?: readonly string[];
  readonly dmBlocklist?: readonly string[];
  readonly push: PushMode;
  /** Fallback poll period: the doorbell only shortens the wait, this keeps delivery correct. */
  readonly pollMs: number;
  /** Turn the doorbell off (benchmarks compare poll-only with wake). */
  readonly wake: boolean;
  /** Liveness across hosts (PostgreSQL): heartbeat period and expiry. */
  readonly heartbeatMs: number;
  readonly heartbeatExpiryMs: number;
  readonly retentionDays: number;
  /** Messages a session may send per minute (a token bucket of that size). */
  readonly rateLimit: number;
  /** register calls a session may make per minute. */
  readonly registerLimit: number;
  /** What one session may keep waiting in others' mailboxes: deliveries, and their bytes. */
  readonly queueMaxMessages: number;
  readonly queueMaxBytes: number;
  /** How long a write waits for a locked database before failing with a clear error. */
  readonly busyLimitMs: number;
  readonly logFile?: string;
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** Claude Code's own folder (CLAUDE_CONFIG_DIR, default ~/.claude): where doctor looks for the plugin. */
  readonly claudeConfigDir: string;
  /** Inside a Claude Code tool call (CLAUDECODE=1): human-only commands refuse. */
  readonly insideClaudeCode: boolean;
  /**
   * What Claude Code tells a hook process (and only a hook) about its session: the Claude Code
   * process (CLAUDE_PID), whether a person is attached (CLAUDE_CODE_SESSION_ATTENDED: 0 under
   * claude -p), and its session id (CLAUDE_CODE_SESSION_ID).
   */
  readonly claudeHook: { pid?: number; attended: boolean; sessionId?: string };
  /** Codex CLI's home (CODEX_HOME, default ~/.codex): its config.toml, hooks.json and daemon. */
  readonly codexHome: string;
  /** Gemini CLI's user folder ($GEMINI_CLI_HOME/.gemini, default ~/.gemini): its settings.json. */
  readonly geminiDir: string;
}

type Env = Record<string, string | undefined>;

function list(env: Env, key: string): string[] | undefined {
  const raw = env[key];
  if (raw === undefined || raw.trim() === '') return undefined;
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => nameKey(s));
}

function int(env: Env, key: string, dflt: number, min: number, max: number): number {
  const raw = env[key];
  if (raw === undefined || raw.trim() === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new CcDmError('E_CONFIG', `${key}=${raw} is invalid: expected a whole number from ${min} to ${max}.`);
  }
  return n;
}

function optional(env: Env, key: string): string | undefined {
  const v = env[key]?.trim();
  return v ? v : undefined;
}

/** Colour on a terminal unless NO_COLOR is set (https://no-color.org), read before any other setting. */
export function colorAllowed(env: Env = process.env): boolean {
  return !env.NO_COLOR;
}

/** The launch identity a session takes from its environment. */
export const LAUNCH_IDENTITY = ['CC_DM_SESSION_NAME', 'CC_DM_SESSION_ROLE', 'CC_DM_SESSION_PROJECT'] as const;

/**
 * The environment without the launch identity: what a server of a Codex thread under the shared
 * app-server daemon must use, since its environment is the daemon's (that of whichever TUI
 * started it), not its own thread's. Returns the variables left out, to report them.
 */
export function withoutLaunchIdentity(env: Env = process.env): { env: Env; dropped: string[] } {
  const out: Env = { ...env };
  const dropped: string[] = [];
  for (const k of LAUNCH_IDENTITY) {
    if (out[k] !== undefined) dropped.push(`${k}=${out[k]}`);
    delete out[k];
  }
  return { env: out, dropped };
}

export function loadConfig(env: Env = process.env): Config {
  const home = resolve(optional(env, 'CC_DM_HOME') ?? join(homedir(), '.cc-dm'));
  const databaseUrl = optional(env, 'CC_DM_DATABASE_URL');
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new CcDmError(
      'E_CONFIG',
      'CC_DM_DATABASE_URL must start with postgres:// or postgresql:// (unset it to use the embedded SQLite store).',
    );
  }
  const sessionName = optional(env, 'CC_DM_SESSION_NAME');
  if (sessionName) checkName(sessionName, 'CC_DM_SESSION_NAME');
  const role = optional(env, 'CC_DM_SESSION_ROLE');
  if (role) checkRole(role, 'CC_DM_SESSION_ROLE');
  const project = optional(env, 'CC_DM_SESSION_PROJECT');
  if (project) checkProject(project, 'CC_DM_SESSION_PROJECT');
  const approver = optional(env, 'CC_DM_PERMISSION_APPROVER');
  if (approver) checkName(approver, 'CC_DM_PERMISSION_APPROVER');

  const dmAllowlist = list(env, 'CC_DM_DM_ALLOWLIST');
  const dmBlocklist = list(env, 'CC_DM_DM_BLOCKLIST');
  if (dmAllowlist && dmBlocklist) {
    throw new CcDmError(
      'E_CONFIG',
      'CC_DM_DM_ALLOWLIST and CC_DM_DM_BLOCKLIST are both set: use one or the other (an allowlist already blocks every name it does not list).',
    );
  }
  const push = (optional(env, 'CC_DM_PUSH') ?? 'auto').toLowerCase();
  if (push !== 'auto' && push !== 'on' && push !== 'off') {
    throw new CcDmError('E_CONFIG', `CC_DM_PUSH=${push} is invalid: expected auto, on or off.`);
  }
  const logLevel = (optional(env, 'CC_DM_LOG_LEVEL') ?? 'info').toLowerCase();
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel)) {
    throw new CcDmError('E_CONFIG', `CC_DM_LOG_LEVEL=${logLevel} is invalid: expected debug, info, warn or error.`);
  }
  const relay = optional(env, 'CC_DM_PERMISSION_RELAY');
  const heartbeatMs = int(env, 'CC_DM_HEARTBEAT_MS', 10_000, 500, 600_000);
  const cfg: Config = {
    home,
    dbPath: join(home, 'bus.db'),
    databaseUrl,
    storeKind: databaseUrl ? 'postgres' : 'sqlite',
    host: optional(env, 'CC_DM_HOST') ?? hostname(),
    sessionName,
    role,
    project,
    permissionRelay: relay === '1' || relay?.toLowerCase() === 'true',
    permissionApprover: approver,
    broadcastAllowedRoles: list(env, 'CC_DM_BROADCAST_ALLOWED_ROLES'),
    dmAllowlist,
    dmBlocklist,
    push: push as PushMode,
    pollMs: int(env, 'CC_DM_POLL_MS', 5_000, 50, 600_000),
    wake: optional(env, 'CC_DM_WAKE') !== '0',
    heartbeatMs,
    heartbeatExpiryMs: int(env, 'CC_DM_HEARTBEAT_EXPIRY_MS', heartbeatMs * 3, heartbeatMs * 2, 3_600_000),
    retentionDays: int(env, 'CC_DM_RETENTION_DAYS', 30, 1, 36_500),
    busyLimitMs: int(env, 'CC_DM_BUSY_LIMIT_MS', 15_000, 100, 600_000),
    rateLimit: int(env, 'CC_DM_RATE_LIMIT', 6_000, 1, 1_000_000),
    registerLimit: int(env, 'CC_DM_REGISTER_LIMIT', 10, 1, 10_000),
    queueMaxMessages: int(env, 'CC_DM_QUEUE_MAX_MESSAGES', 5_000, 1, 10_000_000),
    queueMaxBytes: int(env, 'CC_DM_QUEUE_MAX_BYTES', 32 * 1024 * 1024, 64 * 1024, 1024 * 1024 * 1024),
    logFile: optional(env, 'CC_DM_LOG_FILE'),
    logLevel: logLevel as Config['logLevel'],
    claudeConfigDir: resolve(optional(env, 'CLAUDE_CONFIG_DIR') ?? join(homedir(), '.claude')),
    insideClaudeCode: env.CLAUDECODE === '1',
    claudeHook: {
      pid: /^\d+$/.test(env.CLAUDE_PID ?? '') ? Number(env.CLAUDE_PID) : undefined,
      attended: env.CLAUDE_CODE_SESSION_ATTENDED !== '0',
      sessionId: optional(env, 'CLAUDE_CODE_SESSION_ID'),
    },
    codexHome: resolve(optional(env, 'CODEX_HOME') ?? join(homedir(), '.codex')),
    geminiDir: join(resolve(optional(env, 'GEMINI_CLI_HOME') ?? homedir()), '.gemini'),
  };
  return Object.freeze(cfg);
}
