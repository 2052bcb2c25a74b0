/** Names, roles and projects: what they may contain, and how they compare. */
import { CcDmError } from './errors.js';

export const NAME_MAX = 64;
export const ROLE_MAX = 64;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Names are compared trimmed and case-folded: " Planner " and "planner" are one name. */
export function nameKey(name: string): string {
  return name.trim().toLowerCase();
}

/** Names nobody may hold: the human's own, and words that would read as the system. */
export const RESERVED_NAMES = new Set(['human', 'system', 'cc-dm', 'all', 'everyone', 'broadcast']);

/** Words whose whole family is reserved: the word alone or followed by a separator, in any case. */
const RESERVED_FAMILIES = ['human', 'system', 'cc-dm', 'cc_dm', 'cc.dm', 'ccdm'];

/**
 * Whether a name reads as the human or the system: a reserved word, or a reserved family's word
 * followed by a separator (`human.`, `Human_x`, `system-1`, `CC-DM.bot`). `humanoid` is a name.
 */
export function isReservedName(name: string): boolean {
  const key = nameKey(name);
  if (RESERVED_NAMES.has(key)) return true;
  return RESERVED_FAMILIES.some((w) => key === w || (key.startsWith(w) && /[._-]/.test(key[w.length]!)));
}

/** What the reserved names are, for error messages. */
export const RESERVED_RULE = `${[...RESERVED_NAMES].join(', ')}, and names starting with human, system or cc-dm followed by ".", "_" or "-"`;

export function checkName(raw: string, what = 'name'): string {
  const name = raw.trim();
  if (name.length === 0) throw new CcDmError('E_INVALID', `${what} is empty: give a name such as "planner" or "backend-1".`);
  if (name.length > NAME_MAX)
    throw new CcDmError('E_INVALID', `${what} "${name.slice(0, 20)}..." is ${name.length} characters long; the limit is ${NAME_MAX}.`);
  if (!NAME_RE.test(name)) {
    throw new CcDmError(
      'E_INVALID',
      `${what} "${name}" has characters that are not allowed: use letters, digits, ".", "_" and "-", starting with a letter or digit.`,
    );
  }
  return name;
}

export function checkRole(raw: string, what = 'role'): string {
  const role = raw.trim();
  if (role.length === 0) throw new CcDmError('E_INVALID', `${what} is empty: give a role such as "planner", "backend" or "tests".`);
  if (role.length > ROLE_MAX) throw new CcDmError('E_INVALID', `${what} is ${role.length} characters long; the limit is ${ROLE_MAX}.`);
  if (!/^[A-Za-z0-9][A-Za-z0-9 ._-]*$/.test(role)) {
    throw new CcDmError(
      'E_INVALID',
      `${what} "${role}" has characters that are not allowed: use letters, digits, spaces, ".", "_" and "-".`,
    );
  }
  return role;
}

export function checkProject(raw: string, what = 'project'): string {
  const p = raw.trim();
  if (p.length === 0 || p.length > NAME_MAX || !NAME_RE.test(p)) {
    throw new CcDmError('E_INVALID', `${what} "${p.slice(0, 40)}" is invalid: at most ${NAME_MAX} letters, digits, ".", "_" and "-".`);
  }
  return p;
}

/** Levenshtein distance, for "did you mean" lists of close names. */
export function distance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j]!;
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length]!;
}
