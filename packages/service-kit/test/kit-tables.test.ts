import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createTestDatabase, repositoryRoot, runSql, type TestDatabase } from '@zerostate/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kitDatabase, kitTablesPath } from './support.js';

/** Every `prisma/<service>/migrations` folder: each service database must hold the kit's tables. */
const migrationFolders = readdirSync(path.join(repositoryRoot, 'prisma'))
  .map((service) => path.join(repositoryRoot, 'prisma', service, 'migrations'))
  .filter((folder) => existsSync(folder));

/** A table's columns, constraints and indexes as Postgres itself prints them. */
async function shapeOf(url: string, table: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const columns = await client.query(
      `SELECT attname AS name, format_type(atttypid, atttypmod) AS type, attnotnull AS not_null,
              pg_get_expr(adbin, adrelid) AS default_value
       FROM pg_attribute LEFT JOIN pg_attrdef ON adrelid = attrelid AND adnum = attnum
       WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attname`,
      [table],
    );
    const constraints = await client.query(
      `SELECT conname AS name, pg_get_constraintdef(oid) AS definition
       FROM pg_constraint WHERE conrelid = $1::regclass ORDER BY conname`,
      [table],
    );
    const indexes = await client.query(
      'SELECT indexname AS name, indexdef AS definition FROM pg_indexes WHERE tablename = $1 ORDER BY indexname',
      [table],
    );
    return { columns: columns.rows, constraints: constraints.rows, indexes: indexes.rows };
  } finally {
    await client.end();
  }
}

describe('kit-tables.sql', () => {
  let tables: string[];
  let canonical: Awaited<ReturnType<typeof kitDatabase>>;

  beforeAll(async () => {
    tables = [...(await readFile(kitTablesPath, 'utf8')).matchAll(/CREATE TABLE "(\w+)"/g)].map(
      (match) => match[1]!,
    );
    canonical = await kitDatabase('kit_tables');
  });

  afterAll(async () => {
    await canonical?.close();
  });

  it('when the file and the prisma folder are read, then they name the kit tables and every service', () => {
    expect(tables).toEqual(['outbox', 'processed_events', 'periodic_jobs']);
    expect(migrationFolders.map((folder) => path.relative(repositoryRoot, folder))).toEqual([
      'prisma/auction/migrations',
      'prisma/auth/migrations',
      'prisma/payment/migrations',
      'prisma/reputation/migrations',
      'prisma/task/migrations',
    ]);
  });

  it.each(migrationFolders.map((folder) => [path.relative(repositoryRoot, folder), folder]))(
    'when %s is applied, then its kit tables match kit-tables.sql exactly',
    async (_label, folder) => {
      const migrated: TestDatabase = await createTestDatabase({
        name: 'kit_tables_service',
        migrationsDir: folder,
      });
      try {
        for (const table of tables) {
          expect({ table, ...(await shapeOf(migrated.url, table)) }).toEqual({
            table,
            ...(await shapeOf(canonical.url, table)),
          });
        }
      } finally {
        await migrated.drop();
      }
    },
  );

  it('when a column loses its default, then the compared shape changes', async () => {
    const before = await shapeOf(canonical.url, 'processed_events');
    await runSql(canonical.url, 'ALTER TABLE processed_events ALTER COLUMN processed_at DROP DEFAULT');
    try {
      expect(await shapeOf(canonical.url, 'processed_events')).not.toEqual(before);
    } finally {
      await runSql(
        canonical.url,
        'ALTER TABLE processed_events ALTER COLUMN processed_at SET DEFAULT CURRENT_TIMESTAMP',
      );
    }
  });
});
