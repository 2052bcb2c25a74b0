/** Figures, their targets (issues 4, 5 and 7: bench/targets.ts), and the table that prints them side by side. */

export interface Target {
  op: '<=' | '>=' | '=';
  value: number;
}

export interface Figure {
  scenario: string;
  metric: string;
  value: number;
  unit: string;
  target?: Target;
  /** Only the wake path is held to the target; poll-only figures are shown beside it. */
  pass?: boolean;
  note?: string;
}

export function judge(value: number, t?: Target): boolean | undefined {
  if (!t || Number.isNaN(value)) return t ? false : undefined;
  return t.op === '<=' ? value <= t.value : t.op === '>=' ? value >= t.value : value === t.value;
}

export function fig(scenario: string, metric: string, value: number, unit: string, target?: Target, note?: string): Figure {
  return { scenario, metric, value, unit, target, pass: judge(value, target), note };
}

export const le = (value: number): Target => ({ op: '<=', value });
export const ge = (value: number): Target => ({ op: '>=', value });
export const eq = (value: number): Target => ({ op: '=', value });

function show(v: number | undefined, unit: string): string {
  if (v === undefined) return '-';
  if (Number.isNaN(v)) return 'n/a';
  const digits = Number.isInteger(v) ? 0 : Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : Math.abs(v) >= 1 ? 2 : 3;
  return `${v.toFixed(digits)}${unit ? ' ' + unit : ''}`;
}

const mark = (p: boolean | undefined) => (p === undefined ? ' ' : p ? '✓' : '✗');

/** One row per figure: the wake value with its mark, the poll-only value with its mark, the target. */
export function table(results: Record<string, Figure[]>): string {
  const wake = results['wake'] ?? [];
  const poll = results['poll-only'] ?? [];
  const keys: string[] = [];
  const byKey = (list: Figure[]) => new Map(list.map((f) => [`${f.scenario}|${f.metric}`, f]));
  for (const f of [...wake, ...poll]) {
    const k = `${f.scenario}|${f.metric}`;
    if (!keys.includes(k)) keys.push(k);
  }
  const w = byKey(wake);
  const p = byKey(poll);
  const rows = [['scenario', 'figure', 'target', 'wake', '', 'poll-only', '']];
  for (const k of keys) {
    const a = w.get(k);
    const b = p.get(k);
    const any = (a ?? b)!;
    const t = any.target ? `${any.target.op === '=' ? '' : any.target.op + ' '}${show(any.target.value, any.unit)}` : '';
    rows.push([any.scenario, any.metric, t, show(a?.value, any.unit), a ? mark(a.pass) : '', show(b?.value, any.unit), b ? mark(b.pass) : '']);
  }
  const width = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r, ri) => r.map((c, i) => (i >= 2 && i !== 4 && i !== 6 ? c.padStart(width[i]!) : c.padEnd(width[i]!))).join('  ').trimEnd()
    + (ri === 0 ? `\n${width.map((n) => '-'.repeat(n)).join('  ')}` : '')).join('\n');
}
