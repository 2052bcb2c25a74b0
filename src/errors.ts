/**
 * One error class with a stable code, as better-sqlite3 and citty do. The message is written
 * for whoever must act on it: a model reading a tool result, or a human reading the CLI.
 *
 * Every code has its CLI exit code and its HTTP status in one table; the code union is the
 * table's keys, so a new code without a mapping does not compile.
 *
 * CLI exit codes, for scripts:
 *   0  done (doctor: every check passed or only warned)
 *   1  failed (an unexpected error; doctor: a check failed)
 *   2  bad usage or configuration (unknown option, missing argument, invalid value or setting)
 *   3  refused (human-only command inside an agent's tool call, forbidden, out of scope, rate)
 *   4  not found (no such message, request, recipient, or a renamed one)
 *   5  store unavailable (down, busy past the limit, corrupt, or newer than this cc-dm)
 */
const ERRORS = {
  E_CONFIG: { exit: 2, http: 400 },
  E_INVALID: { exit: 2, http: 400 },
  E_HUMAN_ONLY: { exit: 3, http: 403 },
  E_FORBIDDEN: { exit: 3, http: 403 },
  E_SCOPE: { exit: 3, http: 403 },
  E_RATE: { exit: 3, http: 429 },
  E_QUOTA: { exit: 3, http: 429 },
  E_NAME_TAKEN: { exit: 3, http: 409 },
  E_NAME_RESERVED: { exit: 3, http: 409 },
  E_NOT_FOUND: { exit: 4, http: 404 },
  E_UNKNOWN_RECIPIENT: { exit: 4, http: 404 },
  E_RENAMED: { exit: 4, http: 409 },
  E_STORE_BUSY: { exit: 5, http: 503 },
  E_STORE_DOWN: { exit: 5, http: 503 },
  E_STORE_CORRUPT: { exit: 5, http: 503 },
  E_STORE_VERSION: { exit: 5, http: 503 },
  E_INTERNAL: { exit: 1, http: 500 },
} as const satisfies Record<string, { exit: 1 | 2 | 3 | 4 | 5; http: 400 | 403 | 404 | 409 | 429 | 500 | 503 }>;

export type ErrorCode = keyof typeof ERRORS;

export function exitCode(code: ErrorCode): number {
  return ERRORS[code].exit;
}

export function httpStatus(code: ErrorCode): (typeof ERRORS)[ErrorCode]['http'] {
  return ERRORS[code].http;
}

/**
 * Structured facts an edge may need to word its own advice: a model is told to pass
 * `queue_if_unknown`, a person at the CLI to add `--queue`. Never parsed back out of a message.
 */
export interface ErrorDetails {
  /** Close or existing names (E_UNKNOWN_RECIPIENT). */
  names?: string[];
  /** What the renamed session is called now (E_RENAMED). */
  now?: string;
  /** The store's printable location (E_STORE_DOWN). */
  where?: string;
  /** The sender may retry on purpose with this option (E_UNKNOWN_RECIPIENT: queue for a name no session used yet). */
  retryWith?: 'queue_if_unknown';
}

export class CcDmError extends Error {
  readonly code: ErrorCode;
  readonly details?: ErrorDetails;
  constructor(code: ErrorCode, message: string, details?: ErrorDetails) {
    super(message);
    this.name = 'CcDmError';
    this.code = code;
    this.details = details;
  }
}

export function isCcDmError(e: unknown): e is CcDmError {
  return e instanceof CcDmError;
}

/** The code of any error: ours, or E_INTERNAL for anything unexpected. */
export function codeOf(e: unknown): ErrorCode {
  return isCcDmError(e) ? e.code : 'E_INTERNAL';
}
