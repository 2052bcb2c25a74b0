/**
 * Connecting to PostgreSQL: client settings, a printable description without credentials, and
 * how a driver error is classified (worth retrying, or final) and worded for whoever must act.
 */
import pg from 'pg';
import { CcDmError } from '../../errors.js';
import { scrub } from '../../log.js';

/** Epoch-ms times and identity columns are BIGINT: read them as numbers (all stay below 2^53). */
const INT8 = 20;
export const PG_TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8 && format !== 'binary'
      ? (v: string) => Number(v)
      : pg.types.getTypeParser(oid, format as 'text')) as pg.CustomTypesConfig['getTypeParser'],
};

/**
 * Client settings shared by the pool and the LISTEN connection. A refused connection fails at
 * once; an unreachable host after 5 s instead of the OS's minutes. Keep-alive finds a dead peer
 * behind a NAT or a crashed machine. cc-dm's transactions last milliseconds: one left open for
 * 15 s belongs to a frozen or half-dead process, and PostgreSQL ends it, so its locks (the
 * claim lock among them) never hold everyone else up for longer.
 */
export function clientConfig(url: string): pg.ClientConfig {
  return {
    connectionString: url,
    types: PG_TYPES,
    connectionTimeoutMillis: 5_000,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    application_name: 'cc-dm',
    idle_in_transaction_session_timeout: 15_000,
  };
}

/** `postgres://host:port/db`: where the store is, with no user, password or query parameters. */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    const db = decodeURIComponent(u.pathname.replace(/^\//, '')) || '(default database)';
    const host = u.hostname || u.searchParams.get('host') || 'localhost';
    return `postgres://${host}${u.port ? `:${u.port}` : ''}/${db}`;
  } catch {
    return 'postgres://(unparsable URL)';
  }
}

const NET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ECONNABORTED',
]);
/** SQLSTATEs that mean "the server is going away or not there yet": retry, it may come back. */
const DOWN_STATES = new Set(['57P01', '57P02', '57P03', '53300', '08000', '08003', '08006', '08001', '08004']);
/** Conflicts a retry resolves: serialization failure and deadlock. */
const CONFLICT_STATES = new Set(['40001', '40P01']);

function codeOf(e: unknown): string {
  return String((e as { code?: unknown })?.code ?? '');
}

/** The connection is gone or not there: the store is down (for now). */
export function isDown(e: unknown): boolean {
  const code = codeOf(e);
  if (NET_CODES.has(code) || DOWN_STATES.has(code)) return true;
  const msg = (e as Error)?.message ?? '';
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|not queryable|Connection ended|the database system is (starting up|shutting down|in recovery mode)/i.test(
    msg,
  );
}

export function isRetryable(e: unknown): boolean {
  return isDown(e) || CONFLICT_STATES.has(codeOf(e));
}

function reason(e: unknown): string {
  const code = codeOf(e);
  const msg = scrub((e as Error)?.message ?? String(e));
  if (code === 'ECONNREFUSED') return 'connection refused (is PostgreSQL running, and listening on that address?)';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'host name not found';
  if (code === '57P01' || code === '57P02') return 'the server is shutting down';
  if (code === '57P03') return 'the server is starting up';
  if (code === '53300') return 'the server has no free connections (max_connections)';
  return msg || code || 'unknown error';
}

export function downError(where: string, e: unknown, retriedMs?: number): CcDmError {
  const tried = retriedMs ? ` (retried for ${Math.round(retriedMs / 1000)} s)` : '';
  return new CcDmError(
    'E_STORE_DOWN',
    `the cc-dm PostgreSQL store at ${where} is unreachable: ${reason(e)}${tried}. Nothing was written; try again once it is back (cc-dm doctor shows the state).`,
    { where },
  );
}

/** Words a driver error for a person, without credentials; errors that are ours pass through. */
export function translate(where: string, e: unknown): Error {
  if (e instanceof CcDmError) return e;
  const code = codeOf(e);
  if (isDown(e)) return downError(where, e);
  if (code === '28P01' || code === '28000') {
    return new CcDmError(
      'E_CONFIG',
      `PostgreSQL at ${where} refused the login (${code === '28P01' ? 'wrong password or user' : 'no access for this user'}): check the user and password in CC_DM_DATABASE_URL.`,
    );
  }
  if (code === '22021' || code === '22P05') {
    return new CcDmError('E_INVALID', 'the text holds a character PostgreSQL cannot store (a NUL, \\u0000): remove it and send again.');
  }
  if (code === '3D000')
    return new CcDmError('E_CONFIG', `the database in CC_DM_DATABASE_URL does not exist on ${where}: create it (createdb) or fix the URL.`);
  if (code === '42501')
    return new CcDmError(
      'E_CONFIG',
      `PostgreSQL at ${where} denied a permission cc-dm needs (${scrub((e as Error).message)}). The user must be able to create the schema cc_dm once, or own it.`,
    );
  const err = new Error(`PostgreSQL error at ${where}: ${scrub((e as Error)?.message ?? String(e))}${code ? ` [${code}]` : ''}`);
  return err;
}
