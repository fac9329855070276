import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { ensureDatabase, migrate } from '../src/index.js';

/* Test helpers. @zerostate/testkit builds on this package, so these tests cannot use it. */

const serverUrl = 'postgresql://postgres@127.0.0.1:5432';

export const fixtureMigrationsDir = fileURLToPath(new URL('./fixtures/migrations', import.meta.url));

export interface ScratchDatabase {
  url: string;
  drop(): Promise<void>;
}

/** A new, empty database of its own on the shared Postgres. */
export async function scratchDatabase(label: string): Promise<ScratchDatabase> {
  const name = `zs_test_database_${label}_${Math.random().toString(16).slice(2, 10)}`;
  const url = `${serverUrl}/${name}`;
  await ensureDatabase(url);
  return {
    url,
    async drop() {
      const client = new pg.Client({ connectionString: `${serverUrl}/postgres` });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

/** A scratch database with the fixture migrations (outbox and items tables) applied. */
export async function migratedScratchDatabase(label: string): Promise<ScratchDatabase> {
  const database = await scratchDatabase(label);
  await migrate({ connectionString: database.url, migrationsDir: fixtureMigrationsDir });
  return database;
}

/** A private, editable copy of the fixture migrations folder. */
export async function copyOfFixtureMigrations(): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'zs-migrations-'));
  await cp(fixtureMigrationsDir, dir, { recursive: true });
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Runs one query on a short-lived connection. */
export async function queryOnce<Row extends pg.QueryResultRow>(
  url: string,
  sql: string,
  values: unknown[] = [],
): Promise<Row[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<Row>(sql, values)).rows;
  } finally {
    await client.end();
  }
}
