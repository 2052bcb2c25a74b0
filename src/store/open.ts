/** Opens the store the configuration selects. PostgreSQL (and its driver) is loaded only when asked for. */
import type { Config } from '../config.js';
import type { Store } from './types.js';

export async function openStore(cfg: Config, onWarning?: (message: string) => void): Promise<Store> {
  if (cfg.databaseUrl) {
    const { PostgresStore } = await import('./postgres/postgres-store.js');
    return PostgresStore.open({ url: cfg.databaseUrl, retryLimitMs: cfg.busyLimitMs, onWarning });
  }
  const { SqliteStore } = await import('./sqlite/sqlite-store.js');
  return SqliteStore.open({ path: cfg.dbPath, busyLimitMs: cfg.busyLimitMs });
}
