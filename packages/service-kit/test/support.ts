import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from '@zerostate/testkit';
import pg from 'pg';

/** The kit's tables (outbox, periodic jobs, …), as every service's migrations create them, in order. */
export const kitSqlFiles = readdirSync(new URL('../sql/', import.meta.url))
  .filter((file) => file.endsWith('.sql'))
  .sort()
  .map((file) => new URL(`../sql/${file}`, import.meta.url));

/** The statements of an SQL text, without comments and with whitespace collapsed. */
export function statementsOf(sql: string): string[] {
  return sql
    .replace(/--.*$/gm, '')
    .split(';')
    .map((statement) => statement.replace(/\s+/g, ' ').trim())
    .filter((statement) => statement.length > 0);
}

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
