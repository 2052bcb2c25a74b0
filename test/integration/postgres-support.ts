/**
 * Helpers for the PostgreSQL-only tests: a throwaway server of their own (for faults that would
 * disturb the shared one), and a fresh database on the shared server (CC_DM_TEST_PG_URL) or,
 * when none is set, on a throwaway one.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export interface PgServer {
  url: string;
  safeUrl: string;
  password: string;
  port(): number;
  log: string;
  down(mode?: 'fast' | 'immediate'): Promise<void>;
  up(): Promise<void>;
  restart(mode?: 'fast' | 'immediate'): Promise<void>;
  stop(): Promise<void>;
}

/** A server of the test's own, from scripts/pg.mjs (the one npm test uses). */
export async function throwawayPostgres(): Promise<PgServer> {
  const mod = await import(pathToFileURL(join(ROOT, 'scripts', 'pg.mjs')).href) as { startPostgres(): Promise<PgServer> };
  return mod.startPostgres();
}

let counter = 0;

/** A fresh, empty database; its URL; and cleanup. */
export async function freshDatabase(adminUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const db = `ccdm_pgt_${process.pid}_${++counter}_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${db}`);
  await admin.end();
  const u = new URL(adminUrl);
  u.pathname = `/${db}`;
  return {
    url: u.toString(),
    drop: async () => {
      const a = new pg.Client({ connectionString: adminUrl });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`).catch(() => {});
      await a.end();
    },
  };
}

/** The shared server when the runner started one, otherwise one of our own (stopped by `done`). */
export async function sharedOrOwnServer(): Promise<{ adminUrl: string; done(): Promise<void> }> {
  if (process.env.CC_DM_TEST_PG_URL) return { adminUrl: process.env.CC_DM_TEST_PG_URL, done: async () => {} };
  const own = await throwawayPostgres();
  return { adminUrl: own.url, done: () => own.stop() };
}

export function tempHome(): { home: string; cleanup(): void } {
  const home = mkdtempSync(join(tmpdir(), 'ccdm-pgt-'));
  return { home, cleanup: () => rmSync(home, { recursive: true, force: true }) };
}
