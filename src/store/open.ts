/** Opens the store the configuration selects. PostgreSQL is loaded only when asked for. */
import type { Config } from '../config.js';
import type { Store } from './types.js';

export async function openStore(cfg: Config): Promise<Store> {
  if (cfg.storeKind === 'postgres') {
    const path = './postgres/postgres-store.js'; // TODO(pg): a static import once the module exists
    const { PostgresStore } = await import(path);
    return PostgresStore.open({ url: cfg.databaseUrl!, host: cfg.host });
  }
  const { SqliteStore } = await import('./sqlite/sqlite-store.js');
  return SqliteStore.open({ path: cfg.dbPath, busyLimitMs: cfg.busyLimitMs });
}
