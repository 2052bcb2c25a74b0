/**
 * One migrator for both backends, as Kysely's Migrator: the backend provides a small target
 * (read the version, run a function in one transaction holding the migration lock), and this
 * applies what is missing, in order, each with its row in cc_dm_migrations.
 *
 * Many servers start at once: they queue on the lock (SQLite's write lock, PostgreSQL's advisory
 * lock), the first migrates, the others find the work done. A store newer than this cc-dm is
 * refused before anything is written.
 */
import { CcDmError } from '../errors.js';
import { LATEST_VERSION, MIGRATIONS } from './schema.js';

export interface MigrationTarget {
  readonly dialect: 'sqlite' | 'postgres';
  readonly where: string;
  /** The applied version without taking the lock (0 when there is no schema yet). */
  peekVersion(): Promise<number>;
  /** Runs fn in one transaction that holds the migration lock. */
  locked(fn: (tx: MigrationTx) => Promise<void>): Promise<void>;
}

export interface MigrationTx {
  /** The applied version, creating the version table if it is missing. */
  version(): Promise<number>;
  /** Runs one migration's text and records its version. */
  apply(version: number, sql: string): Promise<void>;
}

function newer(where: string, v: number): CcDmError {
  return new CcDmError(
    'E_STORE_VERSION',
    `the database ${where} has schema version ${v}, newer than this cc-dm knows (${LATEST_VERSION}). Upgrade cc-dm; this version will not write to it.`,
  );
}

export async function migrate(target: MigrationTarget): Promise<void> {
  // The usual case, a store already current, costs one read and no lock.
  const seen = await target.peekVersion();
  if (seen > LATEST_VERSION) throw newer(target.where, seen);
  if (seen === LATEST_VERSION) return;
  await target.locked(async (tx) => {
    const current = await tx.version();
    if (current > LATEST_VERSION) throw newer(target.where, current);
    for (const m of MIGRATIONS) if (m.version > current) await tx.apply(m.version, m[target.dialect]);
  });
}
