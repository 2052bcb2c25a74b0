/**
 * One history query for both backends: the filter's conditions, written once, with the dialect
 * supplying how a parameter is written, where the tables are, and how full-text search matches.
 */
import { MSG_COLS } from './rows.js';
import type { HistoryFilter } from './types.js';

export interface HistoryDialect {
  /** Adds a value to the arguments and returns its placeholder. */
  param(args: unknown[], value: unknown): string;
  /** A table's qualified name. */
  table(name: string): string;
  /** The condition that message `m` matches the words of the query placeholder. */
  matches(placeholder: string): string;
  /** The query text as the dialect's full-text search wants it. */
  queryText(words: string): string;
}

export interface HistoryQuery {
  sql: string;
  args: unknown[];
  /** Newest first (DESC, to be reversed into reading order) or, after a seq, oldest first. */
  newestFirst: boolean;
}

export function historyQuery(f: HistoryFilter, d: HistoryDialect): HistoryQuery {
  const where: string[] = [];
  const args: unknown[] = [];
  const p = (v: unknown) => d.param(args, v);
  const to = (k: string) => `EXISTS (SELECT 1 FROM ${d.table('deliveries')} x WHERE x.message_seq = m.seq AND x.recipient_key = ${k})`;
  // Each use of a value is its own parameter: SQLite's placeholders are positional.
  if (f.participant && f.peer) {
    where.push(`((m.from_key = ${p(f.participant)} AND ${to(p(f.peer))}) OR (m.from_key = ${p(f.peer)} AND ${to(p(f.participant))}))`);
  } else if (f.participant || f.peer) {
    const who = f.participant ?? f.peer;
    where.push(`(m.from_key = ${p(who)} OR ${to(p(who))})`);
  }
  if (f.thread_id) where.push(`m.thread_id = ${p(f.thread_id)}`);
  if (f.project) where.push(`m.project = ${p(f.project)}`);
  if (f.since !== undefined) where.push(`m.sent_at >= ${p(f.since)}`);
  if (f.until !== undefined) where.push(`m.sent_at <= ${p(f.until)}`);
  if (f.afterSeq !== undefined) where.push(`m.seq > ${p(f.afterSeq)}`);
  if (f.query) where.push(d.matches(p(d.queryText(f.query))));
  const newestFirst = f.afterSeq === undefined;
  const sql = `SELECT ${MSG_COLS} FROM ${d.table('messages')} m ${where.length ? 'WHERE ' + where.join(' AND ') : ''}
    ORDER BY m.seq ${newestFirst ? 'DESC' : 'ASC'} LIMIT ${p(f.limit)}`;
  return { sql, args, newestFirst };
}
