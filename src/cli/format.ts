/** Output for people (aligned tables, colour only on a terminal) and for scripts (--json). */
import type { MessageView } from '../bus/views.js';
import { colorAllowed } from '../config.js';

function palette(tty: boolean) {
  return {
    dim: (s: string) => (tty ? `\x1b[2m${s}\x1b[0m` : s),
    bold: (s: string) => (tty ? `\x1b[1m${s}\x1b[0m` : s),
    green: (s: string) => (tty ? `\x1b[32m${s}\x1b[0m` : s),
    yellow: (s: string) => (tty ? `\x1b[33m${s}\x1b[0m` : s),
    red: (s: string) => (tty ? `\x1b[31m${s}\x1b[0m` : s),
  };
}
const noColor = !colorAllowed();
/** Colour for stdout, and for stderr: each only when that stream is a terminal. */
export const c = palette(!!process.stdout.isTTY && !noColor);
export const ce = palette(!!process.stderr.isTTY && !noColor);

export function table(rows: Record<string, unknown>[], cols: string[]): string {
  if (rows.length === 0) return c.dim('(none)');
  const cell = (v: unknown) => (v === null || v === undefined ? '' : String(v));
  const widths = cols.map((k) => Math.max(k.length, ...rows.map((r) => Math.min(cell(r[k]).length, 60))));
  const line = (vals: string[]) =>
    vals
      .map((v, i) => (v.length > 60 ? v.slice(0, 57) + '...' : v).padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [c.bold(line(cols)), ...rows.map((r) => line(cols.map((k) => cell(r[k]))))].join('\n');
}

export function printJson(v: unknown): void {
  process.stdout.write(JSON.stringify(v, null, 2) + '\n');
}

/** One message as a feed line: time, sender -> recipients, states, content on one line. */
export function feedLine(m: MessageView): string {
  const to = m.kind === 'broadcast' ? `* (${m.recipients.length})` : m.recipients.map((d) => d.to).join(',') || m.to || '';
  const states = [...new Set(m.recipients.map((d) => d.state))].join('/');
  const who = m.sender_kind === 'human' ? c.yellow(m.from) : c.green(m.from);
  const text = m.content.replace(/\s+/g, ' ');
  return `${c.dim(m.sent_at.slice(11, 23))} ${who} -> ${to} ${c.dim(`[${states}] ${m.message_id}`)}${m.thread_id ? c.dim(` #${m.thread_id}`) : ''}\n    ${text.length > 300 ? text.slice(0, 297) + '...' : text}`;
}

/**
 * Progress for long work, on stderr and only on a terminal (scripts and --json see nothing):
 * `step` shows what runs now, and its result with the time it took once done.
 */
export async function step<T>(label: string, fn: () => Promise<T>, result?: (v: T) => string): Promise<T> {
  const on = !!process.stderr.isTTY;
  const t0 = performance.now();
  if (on) process.stderr.write(`${ce.dim('…')} ${label}`);
  try {
    const v = await fn();
    if (on)
      process.stderr.write(
        `\r\x1b[K${ce.green('✓')} ${label}${result ? `: ${result(v)}` : ''} ${ce.dim(`(${(performance.now() - t0).toFixed(0)} ms)`)}\n`,
      );
    return v;
  } catch (e) {
    if (on) process.stderr.write(`\r\x1b[K${ce.red('✗')} ${label}\n`);
    throw e;
  }
}
