/**
 * One history query for both backends: the filter's conditions, written once, with the dialect
 * supplying how a parameter is written, where the tables are, which index a branch reads, and
 * how full-text search matches.
 *
 * A filter on who took part is answered from that name's own indexes: its sent messages
 * (messages_from) and its received ones (deliveries_recipient), one branch each, every branch
 * already ordered and cut to the limit, then merged. Its cost follows that name's history, not
 * the store's. As one WHERE with `from = ? OR EXISTS (delivery to ?)` and `ORDER BY seq DESC
 * LIMIT n`, both databases walked every message newest first until n matched: at 1,000,000
 * messages a peer's history took 65 ms on SQLite and 1,035 ms on PostgreSQL, and a name with no
 * messages 2.7 s (now 0.06-1.3 ms and 0.6-9 ms).
 *
 * A text search is found through the full-text index first (a materialized set of hits), never
 * by testing rows walked newest first: PostgreSQL's planner did that for the CLI's limit of 50
 * (10.8 s at 1 M messages; through the index 85-147 ms).
 */
import { MSG_COLS } from './rows.js';
import type { HistoryFilter } from './types.js';

export interface HistoryDialect {
  /** Adds a value to the arguments and returns its placeholder. */
  param(args: unknown[], value: unknown): string;
  /** A row limit (a positive integer): a parameter, or written into the text where that is cheaper. */
  limit(args: unknown[], n: number): string;
  /** A table's qualified name. */
  table(name: string): string;
  /**
   * How a branch names the index it reads (SQLite: `INDEXED BY`, so a plan never depends on
   * statistics cc-dm does not keep; PostgreSQL: nothing, its planner has its own statistics).
   */
  indexedBy(index: string): string;
  /**
   * The condition that message `m` is one of the seqs a subquery gives, read as a set of
   * values (PostgreSQL: an array, so that its planner looks each one up instead of walking
   * messages newest first to meet them: 154 ms for 50 of 100 hits at 1,000,000 messages).
   */
  seqIn(subquery: string): string;
  /** The condition that message `m` matches the words of the query placeholder. */
  matches(placeholder: string): string;
  /** The query text as the dialect's full-text search wants it. */
  queryText(words: string): string;
}

/** Which index a pair's branch starts from: the sender's sent messages or the recipient's received ones. */
export type PairSide = 'sent' | 'received';

export interface HistoryOptions {
  /**
   * For the messages of one direction of a pair, the side to read first (the smaller one).
   * Without it the database's planner chooses.
   */
  pairSide?(fromKey: string, toKey: string): PairSide;
}

export interface HistoryQuery {
  sql: string;
  args: unknown[];
  /** Newest first (DESC, to be reversed into reading order) or, after a seq, oldest first. */
  newestFirst: boolean;
}

export function historyQuery(f: HistoryFilter, d: HistoryDialect, o: HistoryOptions = {}): HistoryQuery {
  const args: unknown[] = [];
  // Each use of a value is its own parameter, added where it appears in the text: SQLite's
  // placeholders are positional.
  const p = (v: unknown) => d.param(args, v);
  const lim = () => d.limit(args, f.limit);
  const newestFirst = f.afterSeq === undefined;
  const order = newestFirst ? 'DESC' : 'ASC';
  const M = d.table('messages');
  const D = d.table('deliveries');
  const cte = f.query ? `WITH hits AS MATERIALIZED (SELECT m.seq FROM ${M} m WHERE ${d.matches(p(d.queryText(f.query)))}) ` : '';
  /** The conditions other than who took part, on message `m`. */
  const filters = (): string[] => {
    const where: string[] = [];
    if (f.thread_id) where.push(`m.thread_id = ${p(f.thread_id)}`);
    if (f.project) where.push(`m.project = ${p(f.project)}`);
    if (f.since !== undefined) where.push(`m.sent_at >= ${p(f.since)}`);
    if (f.until !== undefined) where.push(`m.sent_at <= ${p(f.until)}`);
    if (f.afterSeq !== undefined) where.push(`m.seq > ${p(f.afterSeq)}`);
    if (f.query) where.push(d.seqIn('SELECT seq FROM hits'));
    return where;
  };
  const and = () =>
    filters()
      .map((c) => ` AND ${c}`)
      .join('');
  // CROSS JOIN: SQLite keeps the written order (the branch's index first); PostgreSQL plans it
  // as any inner join.
  const sent = (k: string, to?: string) =>
    `SELECT m.seq FROM ${M} m${d.indexedBy('messages_from')}${to === undefined ? '' : ` CROSS JOIN ${D} x`}
      WHERE m.from_key = ${p(k)}${to === undefined ? '' : ` AND x.message_seq = m.seq AND x.recipient_key = ${p(to)}`}${and()}
      ORDER BY m.seq ${order} LIMIT ${lim()}`;
  const received = (k: string, from?: string) =>
    `SELECT m.seq FROM ${D} x${d.indexedBy('deliveries_recipient')} CROSS JOIN ${M} m
      WHERE x.recipient_key = ${p(k)} AND m.seq = x.message_seq${from === undefined ? '' : ` AND m.from_key = ${p(from)}`}${and()}
      ORDER BY x.message_seq ${order} LIMIT ${lim()}`;
  const between = (from: string, to: string) => {
    const side = o.pairSide?.(from, to);
    if (side === 'sent') return sent(from, to);
    if (side === 'received') return received(to, from);
    return `SELECT m.seq FROM ${M} m CROSS JOIN ${D} x
      WHERE m.from_key = ${p(from)} AND x.message_seq = m.seq AND x.recipient_key = ${p(to)}${and()}
      ORDER BY m.seq ${order} LIMIT ${lim()}`;
  };
  let branches: string[] | undefined;
  // A thread is read through its own index, whoever took part: one conversation is smaller than
  // a name's whole history (at 1,000,000 messages, a name's thread through the name's branches
  // took 50 ms, through the thread 1.2-2.2 ms).
  if (f.thread_id) branches = undefined;
  else if (f.participant && f.peer) branches = [between(f.participant, f.peer), between(f.peer, f.participant)];
  else if (f.participant || f.peer) {
    const who = (f.participant ?? f.peer)!;
    branches = [sent(who), received(who)];
  }
  if (branches) {
    const union = branches.map((b, i) => `SELECT seq FROM (${b}) b${i}`).join(' UNION ');
    return {
      sql: `${cte}SELECT ${MSG_COLS} FROM ${M} m WHERE m.seq IN (${union}) ORDER BY m.seq ${order} LIMIT ${lim()}`,
      args,
      newestFirst,
    };
  }
  const to = (k: string) => `EXISTS (SELECT 1 FROM ${D} x WHERE x.message_seq = m.seq AND x.recipient_key = ${p(k)})`;
  const where: string[] = [];
  if (f.participant && f.peer) {
    const [a, b] = [f.participant, f.peer];
    where.push(`((m.from_key = ${p(a)} AND ${to(b)}) OR (m.from_key = ${p(b)} AND ${to(a)}))`);
  } else if (f.participant || f.peer) {
    const who = (f.participant ?? f.peer)!;
    where.push(`(m.from_key = ${p(who)} OR ${to(who)})`);
  }
  where.push(...filters());
  return {
    sql: `${cte}SELECT ${MSG_COLS} FROM ${M} m${f.thread_id ? d.indexedBy('messages_thread') : ''} ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY m.seq ${order} LIMIT ${lim()}`,
    args,
    newestFirst,
  };
}
