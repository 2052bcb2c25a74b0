/**
 * The one place that reads configuration: the environment, and the optional config file
 * ($CC_DM_HOME/config.toml or config.json), the environment winning. Everything else receives a
 * validated, frozen Config. Invalid settings are a clear error at start, never a surprise later.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { parse as parseToml } from 'smol-toml';
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
  /** Claude Code's user state file (.claude.json: cached feature flags), beside or in claudeConfigDir. */
  readonly claudeJson: string;
  /** Where Claude Code reads managed settings (CC_DM_CLAUDE_MANAGED_DIR overrides, for tests). */
  readonly claudeManagedDir: string;
  /** Claude Code's own variables that decide whether it shows channel pushes (for doctor). */
  readonly claudeEnv: Readonly<Record<string, string>>;
  /** The config file read ($CC_DM_HOME/config.toml or config.json), if there is one. */
  readonly configFile?: string;
  /** Where each setting's value came from, by environment variable. */
  readonly sources: Readonly<Record<string, Source>>;
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

/** Claude Code's variables that route it to a third-party provider (no channels there). */
export const CLAUDE_PROVIDER_ENV = [
  'CLAUDE_CODE_USE_BEDROCK',
  'CLAUDE_CODE_USE_VERTEX',
  'CLAUDE_CODE_USE_FOUNDRY',
  'CLAUDE_CODE_USE_ANTHROPIC_AWS',
  'CLAUDE_CODE_USE_ANTHROPIC_GOOGLE_CLOUD',
  'CLAUDE_CODE_USE_MANTLE',
] as const;
/** ...and those that set its login. */
const CLAUDE_ENV = [...CLAUDE_PROVIDER_ENV, 'ANTHROPIC_API_KEY', 'CLAUDE_CODE_OAUTH_TOKEN'] as const;

type Env = Record<string, string | undefined>;

/** Where a setting's value came from. */
export type Source = 'env' | 'file' | 'default';

interface Setting {
  /** The environment variable. */
  readonly env: string;
  /** Its key in the config file; undefined: environment only (per session, or where the file is). */
  readonly key?: string;
  readonly help: string;
}

/**
 * Every setting, with its environment variable and its key in the optional config file
 * ($CC_DM_HOME/config.toml or config.json). The environment wins over the file; both are checked
 * by the same rules below.
 */
export const SETTINGS: readonly Setting[] = [
  { env: 'CC_DM_HOME', help: 'folder of the SQLite store and the config file' },
  { env: 'CC_DM_SESSION_NAME', help: "this session's name" },
  { env: 'CC_DM_SESSION_ROLE', key: 'session_role', help: 'role shown in who' },
  { env: 'CC_DM_SESSION_PROJECT', key: 'session_project', help: 'project tag' },
  { env: 'CC_DM_PERMISSION_RELAY', key: 'permission_relay', help: "relay Claude Code's permission prompts" },
  { env: 'CC_DM_PERMISSION_APPROVER', key: 'permission_approver', help: 'the session that may answer them' },
  { env: 'CC_DM_BROADCAST_ALLOWED_ROLES', key: 'broadcast_allowed_roles', help: 'only these roles may broadcast' },
  { env: 'CC_DM_DM_ALLOWLIST', key: 'dm_allowlist', help: 'this session may dm only these names' },
  { env: 'CC_DM_DM_BLOCKLIST', key: 'dm_blocklist', help: 'this session may not dm these names' },
  { env: 'CC_DM_DATABASE_URL', key: 'database_url', help: 'postgres:// URL of a shared store' },
  { env: 'CC_DM_HOST', key: 'host', help: "this machine's name in who" },
  { env: 'CC_DM_HEARTBEAT_MS', key: 'heartbeat_ms', help: 'PostgreSQL: heartbeat period' },
  { env: 'CC_DM_HEARTBEAT_EXPIRY_MS', key: 'heartbeat_expiry_ms', help: 'PostgreSQL: a remote session is dead after this' },
  { env: 'CC_DM_PUSH', key: 'push', help: 'auto, on or off' },
  { env: 'CC_DM_WAKE', key: 'wake', help: 'the doorbell (0: poll only)' },
  { env: 'CC_DM_POLL_MS', key: 'poll_ms', help: 'fallback poll period' },
  { env: 'CC_DM_RATE_LIMIT', key: 'rate_limit', help: 'messages per session per minute' },
  { env: 'CC_DM_REGISTER_LIMIT', key: 'register_limit', help: 'register calls per session per minute' },
  { env: 'CC_DM_QUEUE_MAX_MESSAGES', key: 'queue_max_messages', help: "messages one sender may keep waiting in others' mailboxes" },
  { env: 'CC_DM_QUEUE_MAX_BYTES', key: 'queue_max_bytes', help: "bytes one sender may keep waiting in others' mailboxes" },
  { env: 'CC_DM_BUSY_LIMIT_MS', key: 'busy_limit_ms', help: 'how long a write waits for a locked store' },
  { env: 'CC_DM_RETENTION_DAYS', key: 'retention_days', help: 'what cc-dm prune keeps' },
  { env: 'CC_DM_LOG_FILE', key: 'log_file', help: 'where the server logs' },
  { env: 'CC_DM_LOG_LEVEL', key: 'log_level', help: 'debug, info, warn, error' },
];

const BY_KEY = new Map(SETTINGS.filter((s) => s.key).map((s) => [s.key!, s]));
const FILE_NAMES = ['config.toml', 'config.json'] as const;

/**
 * The optional config file of a home: its settings as environment-style strings (so one set of
 * rules checks both), or undefined when there is none. A file that cannot be parsed, a key that is
 * not a setting, or a value that is not a string, number, boolean or list is a clear error.
 */
export function readConfigFile(home: string): { path: string; values: Record<string, string> } | undefined {
  const found = FILE_NAMES.map((f) => join(home, f)).filter((p) => existsSync(p));
  if (found.length === 0) return undefined;
  if (found.length > 1) throw new CcDmError('E_CONFIG', `${found.join(' and ')} both exist: keep one of them.`);
  const path = found[0]!;
  let data: unknown;
  try {
    const text = readFileSync(path, 'utf8');
    data = path.endsWith('.toml') ? parseToml(text) : JSON.parse(text);
  } catch (e) {
    const at = e as Error & { line?: number; column?: number };
    const where = at.line ? ` (line ${at.line}${at.column ? `, column ${at.column}` : ''})` : '';
    throw new CcDmError('E_CONFIG', `${path} cannot be read${where}: ${at.message.split('\n')[0]}`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data))
    throw new CcDmError('E_CONFIG', `${path} must hold a table (TOML) or an object (JSON) of settings.`);
  const values: Record<string, string> = {};
  for (const [key, value] of Object.entries(data)) {
    const setting = BY_KEY.get(key);
    if (!setting) {
      const why =
        key === 'session_name' || key === 'home'
          ? `"${key}" cannot be set in a config file (it is ${key === 'home' ? 'where the file is' : 'per session'}): use ${key === 'home' ? 'CC_DM_HOME' : 'CC_DM_SESSION_NAME'}.`
          : `unknown setting "${key}".`;
      throw new CcDmError('E_CONFIG', `${path}: ${why} Settings: ${[...BY_KEY.keys()].join(', ')}.`);
    }
    values[setting.env] = fileValue(value, `${key} in ${path}`);
  }
  return { path, values };
}

function fileValue(v: unknown, what: string): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? '1' : '0';
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v.join(',');
  throw new CcDmError('E_CONFIG', `${what} must be a string, a number, true/false or a list of strings.`);
}

/** The settings read from one source after another: the environment first, then the file. */
class Reader {
  readonly sources: Record<string, Source> = {};
  constructor(
    private readonly env: Env,
    private readonly file?: { path: string; values: Record<string, string> },
  ) {}

  /** The raw value, or undefined (an empty environment value counts as unset). */
  raw(envKey: string): string | undefined {
    const e = this.env[envKey];
    if (e !== undefined && e.trim() !== '') {
      this.sources[envKey] = 'env';
      return e;
    }
    const f = this.file?.values[envKey];
    if (f !== undefined && f.trim() !== '') {
      this.sources[envKey] = 'file';
      return f;
    }
    this.sources[envKey] = 'default';
    return undefined;
  }

  /** How an error names the setting: the variable, or the key in the file. */
  label(envKey: string): string {
    if (this.sources[envKey] !== 'file') return envKey;
    return `${SETTINGS.find((s) => s.env === envKey)?.key ?? envKey} in ${this.file!.path}`;
  }

  /** How an error quotes a value: `CC_DM_X=v`, or `x = v in <file>`. */
  said(envKey: string, value: string): string {
    if (this.sources[envKey] !== 'file') return `${envKey}=${value}`;
    return `${SETTINGS.find((s) => s.env === envKey)?.key ?? envKey} = ${value} in ${this.file!.path}`;
  }

  optional(envKey: string): string | undefined {
    const v = this.raw(envKey)?.trim();
    return v ? v : undefined;
  }

  list(envKey: string): string[] | undefined {
    const raw = this.raw(envKey);
    if (raw === undefined) return undefined;
    return raw
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .map((s) => nameKey(s));
  }

  int(envKey: string, dflt: number, min: number, max: number): number {
    const raw = this.raw(envKey);
    if (raw === undefined) return dflt;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new CcDmError('E_CONFIG', `${this.said(envKey, raw)} is invalid: expected a whole number from ${min} to ${max}.`);
    }
    return n;
  }
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

/** A URL fit to print: the password (in the user part or the query) replaced by ***. */
export function scrubUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    for (const k of [...u.searchParams.keys()]) if (/pass|secret|token|key/i.test(k)) u.searchParams.set(k, '***');
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}

export function loadConfig(env: Env = process.env): Config {
  const home = resolve(env.CC_DM_HOME?.trim() || join(homedir(), '.cc-dm'));
  const file = readConfigFile(home);
  const r = new Reader(env, file);
  r.raw('CC_DM_HOME');
  const databaseUrl = r.optional('CC_DM_DATABASE_URL');
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new CcDmError(
      'E_CONFIG',
      `${r.label('CC_DM_DATABASE_URL')} must start with postgres:// or postgresql:// (unset it to use the embedded SQLite store).`,
    );
  }
  const sessionName = env.CC_DM_SESSION_NAME?.trim() || undefined;
  r.sources.CC_DM_SESSION_NAME = sessionName ? 'env' : 'default';
  if (sessionName) checkName(sessionName, 'CC_DM_SESSION_NAME');
  const role = r.optional('CC_DM_SESSION_ROLE');
  if (role) checkRole(role, r.label('CC_DM_SESSION_ROLE'));
  const project = r.optional('CC_DM_SESSION_PROJECT');
  if (project) checkProject(project, r.label('CC_DM_SESSION_PROJECT'));
  const approver = r.optional('CC_DM_PERMISSION_APPROVER');
  if (approver) checkName(approver, r.label('CC_DM_PERMISSION_APPROVER'));

  const dmAllowlist = r.list('CC_DM_DM_ALLOWLIST');
  const dmBlocklist = r.list('CC_DM_DM_BLOCKLIST');
  if (dmAllowlist && dmBlocklist) {
    throw new CcDmError(
      'E_CONFIG',
      `${r.label('CC_DM_DM_ALLOWLIST')} and ${r.label('CC_DM_DM_BLOCKLIST')} are both set: use one or the other (an allowlist already blocks every name it does not list).`,
    );
  }
  const push = (r.optional('CC_DM_PUSH') ?? 'auto').toLowerCase();
  if (push !== 'auto' && push !== 'on' && push !== 'off') {
    throw new CcDmError('E_CONFIG', `${r.said('CC_DM_PUSH', push)} is invalid: expected auto, on or off.`);
  }
  const logLevel = (r.optional('CC_DM_LOG_LEVEL') ?? 'info').toLowerCase();
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel)) {
    throw new CcDmError('E_CONFIG', `${r.said('CC_DM_LOG_LEVEL', logLevel)} is invalid: expected debug, info, warn or error.`);
  }
  const relay = r.optional('CC_DM_PERMISSION_RELAY');
  const heartbeatMs = r.int('CC_DM_HEARTBEAT_MS', 10_000, 500, 600_000);
  const cfg: Config = {
    home,
    dbPath: join(home, 'bus.db'),
    databaseUrl,
    storeKind: databaseUrl ? 'postgres' : 'sqlite',
    host: r.optional('CC_DM_HOST') ?? hostname(),
    sessionName,
    role,
    project,
    permissionRelay: relay === '1' || relay?.toLowerCase() === 'true',
    permissionApprover: approver,
    broadcastAllowedRoles: r.list('CC_DM_BROADCAST_ALLOWED_ROLES'),
    dmAllowlist,
    dmBlocklist,
    push: push as PushMode,
    pollMs: r.int('CC_DM_POLL_MS', 5_000, 50, 600_000),
    wake: r.optional('CC_DM_WAKE') !== '0',
    heartbeatMs,
    heartbeatExpiryMs: r.int('CC_DM_HEARTBEAT_EXPIRY_MS', heartbeatMs * 3, heartbeatMs * 2, 3_600_000),
    retentionDays: r.int('CC_DM_RETENTION_DAYS', 30, 1, 36_500),
    busyLimitMs: r.int('CC_DM_BUSY_LIMIT_MS', 15_000, 100, 600_000),
    rateLimit: r.int('CC_DM_RATE_LIMIT', 6_000, 1, 1_000_000),
    registerLimit: r.int('CC_DM_REGISTER_LIMIT', 10, 1, 10_000),
    queueMaxMessages: r.int('CC_DM_QUEUE_MAX_MESSAGES', 5_000, 1, 10_000_000),
    queueMaxBytes: r.int('CC_DM_QUEUE_MAX_BYTES', 32 * 1024 * 1024, 64 * 1024, 1024 * 1024 * 1024),
    logFile: r.optional('CC_DM_LOG_FILE'),
    logLevel: logLevel as Config['logLevel'],
    claudeConfigDir: resolve(env.CLAUDE_CONFIG_DIR?.trim() || join(homedir(), '.claude')),
    claudeJson: env.CLAUDE_CONFIG_DIR?.trim()
      ? join(resolve(env.CLAUDE_CONFIG_DIR.trim()), '.claude.json')
      : join(homedir(), '.claude.json'),
    claudeManagedDir:
      env.CC_DM_CLAUDE_MANAGED_DIR?.trim() ||
      (process.platform === 'darwin' ? '/Library/Application Support/ClaudeCode' : '/etc/claude-code'),
    insideClaudeCode: env.CLAUDECODE === '1',
    claudeEnv: Object.freeze(Object.fromEntries(CLAUDE_ENV.filter((k) => env[k] !== undefined && env[k] !== '').map((k) => [k, env[k]!]))),
    configFile: file?.path,
    sources: Object.freeze({ ...r.sources }),
    claudeHook: {
      pid: /^\d+$/.test(env.CLAUDE_PID ?? '') ? Number(env.CLAUDE_PID) : undefined,
      attended: env.CLAUDE_CODE_SESSION_ATTENDED !== '0',
      sessionId: env.CLAUDE_CODE_SESSION_ID?.trim() || undefined,
    },
    codexHome: resolve(env.CODEX_HOME?.trim() || join(homedir(), '.codex')),
    geminiDir: join(resolve(env.GEMINI_CLI_HOME?.trim() || homedir()), '.gemini'),
  };
  return Object.freeze(cfg);
}

/** What `cc-dm config` shows: every setting's effective value (a password never) and its source. */
export function describeConfig(cfg: Config): { setting: string; file_key: string; value: string; source: Source }[] {
  const show = (v: unknown): string =>
    v === undefined ? '' : Array.isArray(v) ? v.join(',') : typeof v === 'boolean' ? (v ? '1' : '0') : String(v);
  const values: Record<string, unknown> = {
    CC_DM_HOME: cfg.home,
    CC_DM_SESSION_NAME: cfg.sessionName,
    CC_DM_SESSION_ROLE: cfg.role,
    CC_DM_SESSION_PROJECT: cfg.project,
    CC_DM_PERMISSION_RELAY: cfg.permissionRelay,
    CC_DM_PERMISSION_APPROVER: cfg.permissionApprover,
    CC_DM_BROADCAST_ALLOWED_ROLES: cfg.broadcastAllowedRoles,
    CC_DM_DM_ALLOWLIST: cfg.dmAllowlist,
    CC_DM_DM_BLOCKLIST: cfg.dmBlocklist,
    CC_DM_DATABASE_URL: cfg.databaseUrl ? scrubUrl(cfg.databaseUrl) : undefined,
    CC_DM_HOST: cfg.host,
    CC_DM_HEARTBEAT_MS: cfg.heartbeatMs,
    CC_DM_HEARTBEAT_EXPIRY_MS: cfg.heartbeatExpiryMs,
    CC_DM_PUSH: cfg.push,
    CC_DM_WAKE: cfg.wake,
    CC_DM_POLL_MS: cfg.pollMs,
    CC_DM_RATE_LIMIT: cfg.rateLimit,
    CC_DM_REGISTER_LIMIT: cfg.registerLimit,
    CC_DM_QUEUE_MAX_MESSAGES: cfg.queueMaxMessages,
    CC_DM_QUEUE_MAX_BYTES: cfg.queueMaxBytes,
    CC_DM_BUSY_LIMIT_MS: cfg.busyLimitMs,
    CC_DM_RETENTION_DAYS: cfg.retentionDays,
    CC_DM_LOG_FILE: cfg.logFile ?? 'stderr',
    CC_DM_LOG_LEVEL: cfg.logLevel,
  };
  return SETTINGS.map((s) => ({
    setting: s.env,
    file_key: s.key ?? '',
    value: show(values[s.env]),
    source: cfg.sources[s.env] ?? 'default',
  }));
}
