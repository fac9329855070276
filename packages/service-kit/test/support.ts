import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from '@zerostate/testkit';
import pg from 'pg';

/** The kit's own tables, as a service's migrations create them. */
export const kitSqlFiles = ['periodic-jobs.sql'].map((file) => new URL(`../sql/${file}`, import.meta.url));

/** A scratch database holding only the kit's tables, and a pool on it. */
export async function kitDatabase(name: string): Promise<{ database: TestDatabase; pool: pg.Pool }> {
  const migrationsDir = mkdtempSync(path.join(tmpdir(), 'zs-kit-migrations-'));
  kitSqlFiles.forEach((file, index) => {
    mkdirSync(path.join(migrationsDir, `0000000000000${index}_kit`));
    writeFileSync(path.join(migrationsDir, `0000000000000${index}_kit`, 'migration.sql'), readFileSync(file));
  });
  const database = await createTestDatabase({ name, migrationsDir });
  const pool = new pg.Pool({ connectionString: database.url, max: 6 });
  // Dropping the database ends idle connections; that must not crash the run.
  pool.on('error', () => undefined);
  return { database, pool };
}
