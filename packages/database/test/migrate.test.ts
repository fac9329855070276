import { createHash } from 'node:crypto';
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureDatabase, migrate } from '../src/index.js';
import {
  copyOfFixtureMigrations,
  fixtureMigrationsDir,
  queryOnce,
  type ScratchDatabase,
  scratchDatabase,
} from './support.js';

const fixtureNames = ['20260101000000_outbox', '20260102000000_items'];

interface MigrationRow {
  id: string;
  checksum: string;
  migration_name: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
  logs: string | null;
  applied_steps_count: number;
}

async function migrationRows(url: string): Promise<MigrationRow[]> {
  return queryOnce<MigrationRow>(url, 'SELECT * FROM _prisma_migrations ORDER BY started_at, migration_name');
}

describe('migrate', () => {
  let database: ScratchDatabase;

  beforeEach(async () => {
    database = await scratchDatabase('migrate');
  });

  afterEach(async () => {
    await database.drop();
  });

  it('when the database is empty, then every migration is applied in name order and recorded as Prisma does', async () => {
    const applied = await migrate({ connectionString: database.url, migrationsDir: fixtureMigrationsDir });

    expect(applied).toEqual(fixtureNames);
    const rows = await migrationRows(database.url);
    expect(rows.map((row) => row.migration_name)).toEqual(fixtureNames);
    for (const row of rows) {
      const script = await readFile(path.join(fixtureMigrationsDir, row.migration_name, 'migration.sql'));
      expect(row.checksum).toBe(createHash('sha256').update(script).digest('hex'));
      expect(row.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(row.finished_at).toBeInstanceOf(Date);
      expect(row.rolled_back_at).toBeNull();
      expect(row.applied_steps_count).toBe(1);
    }
    const tables = await queryOnce<{ table_name: string }>(
      database.url,
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
    );
    expect(tables.map((table) => table.table_name)).toEqual(['_prisma_migrations', 'items', 'outbox']);
  });

  it('when the bookkeeping table is created, then its columns are exactly those of Prisma Migrate', async () => {
    await migrate({ connectionString: database.url, migrationsDir: fixtureMigrationsDir });

    const columns = await queryOnce<{
      column_name: string;
      type: string;
      is_nullable: string;
      default: string | null;
    }>(
      database.url,
      `SELECT a.attname AS column_name, format_type(a.atttypid, a.atttypmod) AS type,
              CASE WHEN a.attnotnull THEN 'NO' ELSE 'YES' END AS is_nullable,
              pg_get_expr(d.adbin, d.adrelid) AS default
       FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
       WHERE a.attrelid = '_prisma_migrations'::regclass AND a.attnum > 0 AND NOT a.attisdropped
       ORDER BY a.attnum`,
    );
    expect(columns).toEqual([
      { column_name: 'id', type: 'character varying(36)', is_nullable: 'NO', default: null },
      { column_name: 'checksum', type: 'character varying(64)', is_nullable: 'NO', default: null },
      { column_name: 'finished_at', type: 'timestamp with time zone', is_nullable: 'YES', default: null },
      { column_name: 'migration_name', type: 'character varying(255)', is_nullable: 'NO', default: null },
      { column_name: 'logs', type: 'text', is_nullable: 'YES', default: null },
      { column_name: 'rolled_back_at', type: 'timestamp with time zone', is_nullable: 'YES', default: null },
      { column_name: 'started_at', type: 'timestamp with time zone', is_nullable: 'NO', default: 'now()' },
      { column_name: 'applied_steps_count', type: 'integer', is_nullable: 'NO', default: '0' },
    ]);
    const primaryKey = await queryOnce<{ columns: string }>(
      database.url,
      `SELECT pg_get_constraintdef(oid) AS columns FROM pg_constraint
       WHERE conrelid = '_prisma_migrations'::regclass AND contype = 'p'`,
    );
    expect(primaryKey).toEqual([{ columns: 'PRIMARY KEY (id)' }]);
  });

  it('when migrate runs a second time, then it applies nothing and records nothing', async () => {
    await migrate({ connectionString: database.url, migrationsDir: fixtureMigrationsDir });
    const before = await migrationRows(database.url);

    const applied = await migrate({ connectionString: database.url, migrationsDir: fixtureMigrationsDir });

    expect(applied).toEqual([]);
    expect(await migrationRows(database.url)).toEqual(before);
  });

  it('when a new migration is added later, then only that one is applied', async () => {
    const migrations = await copyOfFixtureMigrations();
    try {
      await migrate({ connectionString: database.url, migrationsDir: migrations.dir });
      await mkdir(path.join(migrations.dir, '20260103000000_more'));
      await writeFile(
        path.join(migrations.dir, '20260103000000_more', 'migration.sql'),
        'ALTER TABLE "items" ADD COLUMN "note" TEXT;\n',
      );

      const applied = await migrate({ connectionString: database.url, migrationsDir: migrations.dir });

      expect(applied).toEqual(['20260103000000_more']);
      expect((await migrationRows(database.url)).length).toBe(3);
    } finally {
      await migrations.remove();
    }
  });

  it('when an applied migration file was edited, then migrate refuses and applies nothing new', async () => {
    const migrations = await copyOfFixtureMigrations();
    try {
      await migrate({ connectionString: database.url, migrationsDir: migrations.dir });
      await appendFile(path.join(migrations.dir, fixtureNames[1]!, 'migration.sql'), '-- edited\n');
      await mkdir(path.join(migrations.dir, '20260103000000_more'));
      await writeFile(
        path.join(migrations.dir, '20260103000000_more', 'migration.sql'),
        'CREATE TABLE t (x int);',
      );

      await expect(
        migrate({ connectionString: database.url, migrationsDir: migrations.dir }),
      ).rejects.toThrow(/20260102000000_items was changed after it was applied/);
      expect((await migrationRows(database.url)).map((row) => row.migration_name)).toEqual(fixtureNames);
    } finally {
      await migrations.remove();
    }
  });

  it('when an applied file only changed its line endings, then migrate accepts it as Prisma does', async () => {
    const migrations = await copyOfFixtureMigrations();
    try {
      await migrate({ connectionString: database.url, migrationsDir: migrations.dir });
      const file = path.join(migrations.dir, fixtureNames[0]!, 'migration.sql');
      await writeFile(file, (await readFile(file, 'utf8')).replaceAll('\n', '\r\n'));

      expect(await migrate({ connectionString: database.url, migrationsDir: migrations.dir })).toEqual([]);
    } finally {
      await migrations.remove();
    }
  });

  it('when a migration fails, then its changes roll back, a rolled-back row keeps the error and a fixed file applies next time', async () => {
    const migrations = await copyOfFixtureMigrations();
    try {
      const broken = path.join(migrations.dir, fixtureNames[1]!, 'migration.sql');
      const original = await readFile(broken, 'utf8');
      await writeFile(broken, `${original}\nSELECT no_such_function();\n`);

      await expect(
        migrate({ connectionString: database.url, migrationsDir: migrations.dir }),
      ).rejects.toThrow(/20260102000000_items failed and was rolled back/);
      const items = await queryOnce(
        database.url,
        "SELECT 1 FROM information_schema.tables WHERE table_name = 'items'",
      );
      expect(items).toEqual([]);
      const failedRow = (await migrationRows(database.url)).find(
        (row) => row.migration_name === fixtureNames[1],
      );
      expect(failedRow?.rolled_back_at).toBeInstanceOf(Date);
      expect(failedRow?.finished_at).toBeNull();
      expect(failedRow?.logs).toContain('no_such_function');

      await writeFile(broken, original);
      expect(await migrate({ connectionString: database.url, migrationsDir: migrations.dir })).toEqual([
        fixtureNames[1],
      ]);
    } finally {
      await migrations.remove();
    }
  });

  it('when a failed row left by Prisma exists, then migrate refuses to run', async () => {
    await migrate({ connectionString: database.url, migrationsDir: fixtureMigrationsDir });
    await queryOnce(
      database.url,
      `INSERT INTO _prisma_migrations (id, checksum, migration_name, logs)
       VALUES ('00000000-0000-4000-8000-000000000000', $1, '20260103000000_broken', 'boom')`,
      ['0'.repeat(64)],
    );

    await expect(
      migrate({ connectionString: database.url, migrationsDir: fixtureMigrationsDir }),
    ).rejects.toThrow(/20260103000000_broken failed earlier/);
  });

  it('when two callers migrate at the same time, then each migration is applied exactly once', async () => {
    const results = await Promise.all([
      migrate({ connectionString: database.url, migrationsDir: fixtureMigrationsDir }),
      migrate({ connectionString: database.url, migrationsDir: fixtureMigrationsDir }),
    ]);

    expect(results.flat().sort()).toEqual(fixtureNames);
    expect((await migrationRows(database.url)).map((row) => row.migration_name)).toEqual(fixtureNames);
  });
});

describe('ensureDatabase', () => {
  it('when several callers race to create the same database, then all succeed and it exists once', async () => {
    const database = await scratchDatabase('ensure');
    await database.drop();
    try {
      await Promise.all([
        ensureDatabase(database.url),
        ensureDatabase(database.url),
        ensureDatabase(database.url),
      ]);

      const rows = await queryOnce<{ one: number }>(database.url, 'SELECT 1 AS one');
      expect(rows).toEqual([{ one: 1 }]);
    } finally {
      await database.drop();
    }
  });
});
