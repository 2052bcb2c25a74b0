/**
 * One suite, several stores (as Hono and Kysely test their backends): every integration test of
 * the bus and the channel server runs once per store. Each test gets a fresh, empty store.
 *
 * PostgreSQL runs when CC_DM_TEST_PG_URL points at a server (scripts/test.mjs starts a throwaway
 * one); the suite fails, never skips, if it was asked for and is missing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freshDatabase } from '../integration/postgres-support.js';

export interface StoreFixture {
  kind: 'sqlite' | 'postgres';
  /** A fresh home (and, for PostgreSQL, a fresh database); env to give every server and CLI. */
  fresh(): Promise<{ home: string; env: Record<string, string>; cleanup(): Promise<void> }>;
}

export const sqlite: StoreFixture = {
  kind: 'sqlite',
  async fresh() {
    const home = mkdtempSync(join(tmpdir(), 'ccdm-t-'));
    return { home, env: { CC_DM_HOME: home }, cleanup: async () => rmSync(home, { recursive: true, force: true }) };
  },
};

export function stores(): StoreFixture[] {
  const list: StoreFixture[] = [sqlite];
  const only = process.env.CC_DM_TEST_STORES?.split(',').map((s) => s.trim());
  if (process.env.CC_DM_TEST_PG_URL) list.push(postgresFixture(process.env.CC_DM_TEST_PG_URL));
  else if (only?.includes('postgres')) throw new Error('CC_DM_TEST_STORES asks for postgres but CC_DM_TEST_PG_URL is not set (run the suite with npm test, which starts a server)');
  return only ? list.filter((s) => only.includes(s.kind)) : list;
}

/** Fresh databases on the PostgreSQL server at `adminUrl`. */
export function postgresFixture(adminUrl: string): StoreFixture {
  return {
    kind: 'postgres',
    async fresh() {
      const home = mkdtempSync(join(tmpdir(), 'ccdm-t-'));
      const db = await freshDatabase(adminUrl);
      return {
        home,
        env: { CC_DM_HOME: home, CC_DM_DATABASE_URL: db.url },
        cleanup: async () => {
          rmSync(home, { recursive: true, force: true });
          await db.drop();
        },
      };
    },
  };
}
