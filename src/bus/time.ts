/** Time filters for the CLI and the console: an ISO date, or an age such as 30m, 2h, 7d. */
import { CcDmError } from '../errors.js';

export function parseSince(v: string, now = Date.now()): number {
  const m = /^(\d+)\s*([smhd])$/.exec(v.trim());
  if (m) return now - Number(m[1]) * { s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7 }[m[2] as 's']!;
  const t = Date.parse(v);
  if (Number.isNaN(t))
    throw new CcDmError('E_INVALID', `"${v}" is not a time: use an ISO date (2026-11-25T10:00) or an age (30m, 2h, 7d).`);
  return t;
}
