/** Figures, their targets (issues 4, 5, 7 and 12: bench/targets.ts), and the table that prints them side by side. */

export interface Target {
  op: '<=' | '>=' | '=';
  /** An absolute bound; */
  value?: number;
  /** or a bound relative to the compared server's figure of the same run (`--compare`): factor x theirs. */
  factor?: number;
}

export interface Figure {
  scenario: string;
  metric: string;
  value: number;
  unit: string;
  target?: Target;
  /** Only the first column is held to the target; the others are shown beside it. */
  pass?: boolean;
  note?: string;
  /** Every run's value when the scenario was repeated (`value` is their median). */
  values?: number[];
}

export function judge(value: number, t?: Target, theirs?: number): boolean | undefined {
  if (!t) return undefined;
  const bound = t.factor !== undefined ? (theirs === undefined || Number.isNaN(theirs) ? undefined : t.factor * theirs) : t.value;
  if (bound === undefined) return undefined;
  if (Number.isNaN(value)) return false;
  return t.op === '<=' ? value <= bound : t.op === '>=' ? value >= bound : value === bound;
}

export function fig(scenario: string, metric: string, value: number, unit: string, target?: Target, note?: string): Figure {
  return { scenario, metric, value, unit, target, pass: judge(value, target), note };
}

export const le = (value: number): Target => ({ op: '<=', value });
export const ge = (value: number): Target => ({ op: '>=', value });
export const eq = (value: number): Target => ({ op: '=', value });
/** A bound relative to the compared server: vs('>=', 1.5) is "at least 1.5 times theirs". */
export const vs = (op: '<=' | '>=', factor: number): Target => ({ op, factor });

export const keyOf = (f: Figure) => `${f.scenario}|${f.metric}`;

export function show(v: number | undefined, unit: string): string {
  if (v === undefined) return '-';
  if (Number.isNaN(v)) return 'n/a';
  const digits = Number.isInteger(v) ? 0 : Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : Math.abs(v) >= 1 ? 2 : 3;
  return `${v.toFixed(digits)}${unit ? ' ' + unit : ''}`;
}

function showRange(f: Figure | undefined): string {
  if (!f) return '-';
  const main = show(f.value, f.unit);
  const vals = (f.values ?? []).filter((x) => !Number.isNaN(x));
  if (vals.length < 2) return main;
  const lo = Math.min(...vals);
  const hi = Math.max(...vals);
  return lo === hi ? main : `${main} [${show(lo, '')}-${show(hi, '')}]`;
}

function showTarget(t: Target | undefined, unit: string, other?: string): string {
  if (!t) return '';
  const op = t.op === '=' ? '' : t.op + ' ';
  if (t.factor !== undefined) return `${op}${t.factor === 1 ? '' : `${t.factor}x `}${other ?? 'other'}'s`;
  return `${op}${show(t.value, unit)}`;
}

const mark = (p: boolean | undefined) => (p === undefined ? ' ' : p ? '✓' : '✗');

/** Figures of several runs of one scenario folded into one: the median, with every value kept. */
export function fold(runs: Figure[][]): Figure[] {
  const keys: string[] = [];
  const all = new Map<string, Figure[]>();
  for (const list of runs) for (const f of list) {
    const k = keyOf(f);
    if (!all.has(k)) { all.set(k, []); keys.push(k); }
    all.get(k)!.push(f);
  }
  return keys.map((k) => {
    const fs = all.get(k)!;
    const values = fs.map((f) => f.value);
    const finite = values.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
    // A failure (n/a) in any run shows as n/a: never hidden behind the others' median.
    const value = finite.length === values.length ? finite[Math.ceil(finite.length / 2) - 1]! : Number.NaN;
    const first = fs[0]!;
    return { ...first, value, values, pass: judge(value, first.target), note: fs.map((f) => f.note).filter(Boolean).join('; ') || undefined };
  });
}

export interface ColumnHead { key: string; label: string }

/**
 * One row per figure: each column's value with its mark (only the first column is judged), the
 * ratio first/second when comparing, the target, and a reference figure (issue 12's) if any.
 */
export function table(columns: ColumnHead[], results: Record<string, Figure[]>, opts: { ratio?: boolean; reference?: Record<string, string>; referenceLabel?: string } = {}): string {
  const keys: string[] = [];
  for (const c of columns) for (const f of results[c.key] ?? []) if (!keys.includes(keyOf(f))) keys.push(keyOf(f));
  const maps = columns.map((c) => new Map((results[c.key] ?? []).map((f) => [keyOf(f), f])));
  const head = ['scenario', 'figure', 'target'];
  columns.forEach((c, i) => head.push(c.label, i === 0 ? '' : ''));
  if (opts.ratio) head.push(`${columns[0]!.label} / ${columns[1]!.label}`);
  if (opts.reference) head.push(opts.referenceLabel ?? 'reference');
  const rows = [head];
  for (const k of keys) {
    const fs = maps.map((m) => m.get(k));
    const any = fs.find(Boolean)!;
    const row = [any.scenario, any.metric, showTarget(any.target, any.unit, columns[1]?.label)];
    fs.forEach((f, i) => row.push(showRange(f), f && i === 0 ? mark(f.pass) : ''));
    if (opts.ratio) {
      const a = fs[0]?.value;
      const b = fs[1]?.value;
      row.push(a !== undefined && b !== undefined && b !== 0 && !Number.isNaN(a) && !Number.isNaN(b) && any.unit ? `${(a / b).toFixed(2)}x` : '');
    }
    if (opts.reference) row.push(opts.reference[k] ?? '');
    rows.push(row);
  }
  const width = head.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const right = (i: number) => i === 2 || (i >= 3 && (i - 3) % 2 === 0 && i < 3 + 2 * columns.length) || (opts.ratio && i === 3 + 2 * columns.length);
  return rows.map((r, ri) => r.map((c, i) => (right(i) ? c.padStart(width[i]!) : c.padEnd(width[i]!))).join('  ').trimEnd()
    + (ri === 0 ? `\n${width.map((n) => '-'.repeat(n)).join('  ')}` : '')).join('\n');
}
