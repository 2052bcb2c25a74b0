/**
 * Output for people (aligned tables, colour only on a terminal) and for scripts (--json).
 *
 * Every piece of foreign text (message content, names, roles, working folders, permission
 * requests, error messages) goes through `visible` before it reaches the terminal: control
 * characters (C0, DEL, C1, so ESC/CSI/OSC sequences), bidi overrides and other invisible format
 * characters are shown as escapes such as \x1b or \u202e, never interpreted. A message can then
 * neither rewrite a line, forge another sender, nor make an approval show `ls` while it runs `rm`.
 * Colour is added afterwards, by cc-dm alone. --json escapes the same characters as \uXXXX.
 */
import type { ApprovalView, MessageView } from '../bus/views.js';
import { colorAllowed } from '../config.js';

/** C0 controls, DEL, C1 controls, line and paragraph separators, and format characters (bidi, zero-width...). */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\p{Cf}]/gu;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** Foreign text as a terminal may show it: every control and invisible format character spelled out. */
export function visible(text: string): string {
  return text.replace(UNSAFE, (ch) => {
    const code = ch.codePointAt(0)!;
    return NAMED[ch] ?? (code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`);
  });
}

/** What JSON.stringify leaves raw inside strings and a terminal might act on (it escapes C0 itself). */
const JSON_UNSAFE = /[\u007f-\u009f\u2028\u2029\p{Cf}]/gu;

/** JSON with the characters a terminal might act on escaped as \uXXXX (the parsed value is the same). */
export function safeJson(v: unknown, indent?: number): string {
  return JSON.stringify(v, null, indent).replace(JSON_UNSAFE, (ch) => `\\u${ch.codePointAt(0)!.toString(16).padStart(4, '0')}`);
}

/** A table cell in cc-dm's own colour: its text is made visible, then painted. */
export class Painted {
  constructor(
    readonly text: string,
    readonly paint: (s: string) => string,
  ) {}
}

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
  const cell = (v: unknown) => visible(v === null || v === undefined ? '' : v instanceof Painted ? v.text : String(v));
  const paint = (v: unknown) => (v instanceof Painted ? v.paint : (s: string) => s);
  const widths = cols.map((k) => Math.max(k.length, ...rows.map((r) => Math.min(cell(r[k]).length, 60))));
  const fit = (v: string, i: number) => (v.length > 60 ? v.slice(0, 57) + '...' : v).padEnd(widths[i]!);
  const line = (r: Record<string, unknown>) =>
    cols
      .map((k, i) => paint(r[k])(fit(cell(r[k]), i)))
      .join('  ')
      .trimEnd();
  return [
    c.bold(
      cols
        .map((k, i) => fit(k, i))
        .join('  ')
        .trimEnd(),
    ),
    ...rows.map(line),
  ].join('\n');
}

export function printJson(v: unknown): void {
  process.stdout.write(safeJson(v, 2) + '\n');
}

/** One message as a feed line: time, sender -> recipients, states, content on one line. */
export function feedLine(m: MessageView): string {
  const to = visible(m.kind === 'broadcast' ? `* (${m.recipients.length})` : m.recipients.map((d) => d.to).join(',') || m.to || '');
  const states = visible([...new Set(m.recipients.map((d) => d.state))].join('/'));
  const from = visible(m.from);
  const who = m.sender_kind === 'human' ? c.yellow(from) : c.green(from);
  // Ordinary white space keeps the feed on one line per message; everything else is spelled out.
  const text = visible(m.content.replace(/[ \t\n\r\f\v]+/g, ' '));
  const thread = m.thread_id ? c.dim(` #${visible(m.thread_id)}`) : '';
  return `${c.dim(visible(m.sent_at.slice(11, 23)))} ${who} -> ${to} ${c.dim(`[${states}] ${visible(m.message_id)}`)}${thread}\n    ${text.length > 300 ? text.slice(0, 297) + '...' : text}`;
}

/** Foreign text for a field shown in full: visible, and long runs of spaces counted (they could push the rest out of sight). */
export function shown(text: string): string {
  return visible(text).replace(/ {8,}/g, (run) => ` [${run.length} spaces] `);
}

/**
 * A permission request as a block, every field in full (a table would cut a long input short,
 * and what was cut could be the part that matters: `ls -la` then, far to the right, `rm -rf ~`).
 */
export function approvalBlock(a: ApprovalView, all: boolean): string {
  const state = all ? `, ${a.state}${a.decided_by ? ` by ${visible(a.decided_by)}` : ''}` : '';
  return [
    `${c.bold(visible(a.request_id))}  ${visible(a.requester)} asks to run ${c.bold(visible(a.tool_name))}  ${c.dim(`(asked ${visible(a.asked_at)}, approver ${visible(a.approver)}${state})`)}`,
    `    description: ${shown(a.description)}`,
    `    input:       ${shown(a.input_preview)}`,
  ].join('\n');
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
