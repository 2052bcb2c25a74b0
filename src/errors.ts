/**
 * One error class with a stable code, as better-sqlite3 and citty do. The message is written
 * for whoever must act on it: a model reading a tool result, or a human reading the CLI.
 */
export type ErrorCode =
  | 'E_CONFIG'
  | 'E_INVALID'
  | 'E_UNKNOWN_RECIPIENT'
  | 'E_RENAMED'
  | 'E_NAME_TAKEN'
  | 'E_NAME_RESERVED'
  | 'E_FORBIDDEN'
  | 'E_SCOPE'
  | 'E_NOT_FOUND'
  | 'E_STORE_BUSY'
  | 'E_STORE_CORRUPT'
  | 'E_STORE_VERSION'
  | 'E_STORE_DOWN'
  | 'E_HUMAN_ONLY'
  | 'E_RATE';

export class CcDmError extends Error {
  readonly code: ErrorCode;
  readonly details?: Record<string, unknown>;
  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'CcDmError';
    this.code = code;
    this.details = details;
  }
}

export function isCcDmError(e: unknown): e is CcDmError {
  return e instanceof CcDmError;
}
