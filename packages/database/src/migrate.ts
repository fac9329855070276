import { createHash, randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { AppError } from '@zerostate/errors';
import type { Logger } from '@zerostate/observability';
import pg from 'pg';

/**
 * Prisma Migrate's own lock key, so our runner and `prisma migrate deploy` exclude each other
 * as well as two replicas of one service.
 */
const prismaMigrateLockKey = 72707369;

/** Prisma's bookkeeping table, exactly as its Postgres schema engine creates it. */
const createMigrationsTableSql = `
CREATE TABLE IF NOT EXISTS _prisma_migrations (
    id                      VARCHAR(36) PRIMARY KEY NOT NULL,
    checksum                VARCHAR(64) NOT NULL,
    finished_at             TIMESTAMPTZ,
    migration_name          VARCHAR(255) NOT NULL,
    logs                    TEXT,
    rolled_back_at          TIMESTAMPTZ,
    started_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    applied_steps_count     INTEGER NOT NULL DEFAULT 0
)`;

export interface MigrateOptions {
  connectionString: string;
  /** A Prisma migrations folder: `<name>/migration.sql` per migration, applied in name order. */
  migrationsDir: string;
  logger?: Logger;
}

interface LocalMigration {
  name: string;
  script: string;
}

interface MigrationRecord {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** Prisma accepts a checksum computed with either line ending, because git may convert them. */
function scriptMatchesChecksum(script: string, checksum: string): boolean {
  const variants = [script, script.replaceAll('\r\n', '\n'), script.replaceAll('\n', '\r\n')];
  return variants.some((variant) => sha256Hex(variant) === checksum);
}

async function readLocalMigrations(migrationsDir: string): Promise<LocalMigration[]> {
  const entries = await readdir(migrationsDir, { withFileTypes: true });
  const names = entries
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
  const migrations: LocalMigration[] = [];
  for (const name of names) {
    const script = await readFile(path.join(migrationsDir, name, 'migration.sql'), 'utf8').catch(
      (error: unknown) => {
        throw new AppError('INTERNAL', `Migration folder ${name} has no readable migration.sql.`, {
          cause: error,
        });
      },
    );
    migrations.push({ name, script });
  }
  return migrations;
}

/** Throws unless every applied migration still matches its file and none is left failed. */
function assertHistoryIsClean(records: MigrationRecord[], local: LocalMigration[]): void {
  const failed = records.find((record) => record.finished_at === null && record.rolled_back_at === null);
  if (failed) {
    throw new AppError(
      'INTERNAL',
      `Migration ${failed.migration_name} failed earlier; fix the database, then mark it with ` +
        '`prisma migrate resolve` before migrating again.',
      { details: { migration: failed.migration_name } },
    );
  }
  const scripts = new Map(local.map((migration) => [migration.name, migration.script]));
  for (const record of records) {
    const script = scripts.get(record.migration_name);
    if (record.rolled_back_at !== null || script === undefined) continue;
    if (!scriptMatchesChecksum(script, record.checksum)) {
      throw new AppError(
        'INTERNAL',
        `Migration ${record.migration_name} was changed after it was applied; add a new migration instead.`,
        { details: { migration: record.migration_name } },
      );
    }
  }
}

async function recordRolledBack(
  client: pg.Client,
  attempt: { id: string; checksum: string; name: string; error: unknown },
): Promise<void> {
  await client.query('ROLLBACK');
  const logs = attempt.error instanceof Error ? attempt.error.message : String(attempt.error);
  await client.query(
    'INSERT INTO _prisma_migrations (id, checksum, migration_name, logs, rolled_back_at, started_at) ' +
      'VALUES ($1, $2, $3, $4, now(), now())',
    [attempt.id, attempt.checksum, attempt.name, logs],
  );
}

/**
 * Applies one migration and its `_prisma_migrations` row in a single transaction. A failure rolls
 * both back and leaves a row with `rolled_back_at` set, so the error stays visible in the table
 * while Prisma (and we) treat the migration as not applied.
 */
async function applyMigration(client: pg.Client, migration: LocalMigration): Promise<void> {
  const id = randomUUID();
  const checksum = sha256Hex(migration.script);
  await client.query('BEGIN');
  try {
    await client.query(
      'INSERT INTO _prisma_migrations (id, checksum, migration_name, started_at, applied_steps_count) ' +
        'VALUES ($1, $2, $3, now(), 0)',
      [id, checksum, migration.name],
    );
    await client.query(migration.script);
    await client.query(
      'UPDATE _prisma_migrations SET finished_at = now(), applied_steps_count = 1 WHERE id = $1',
      [id],
    );
    await client.query('COMMIT');
  } catch (error) {
    // Recording is best effort: when the connection itself broke, the original error matters more.
    await recordRolledBack(client, { id, checksum, name: migration.name, error }).catch(() => undefined);
    throw new AppError('INTERNAL', `Migration ${migration.name} failed and was rolled back.`, {
      details: { migration: migration.name },
      cause: error,
    });
  }
}

async function migrateLocked(client: pg.Client, options: MigrateOptions): Promise<string[]> {
  await client.query(createMigrationsTableSql);
  const local = await readLocalMigrations(options.migrationsDir);
  const { rows: records } = await client.query<MigrationRecord>(
    'SELECT migration_name, checksum, finished_at, rolled_back_at FROM _prisma_migrations ORDER BY started_at',
  );
  assertHistoryIsClean(records, local);
  const applied = new Set(
    records
      .filter((record) => record.finished_at !== null && record.rolled_back_at === null)
      .map((record) => record.migration_name),
  );
  const localNames = new Set(local.map((migration) => migration.name));
  for (const name of applied) {
    if (!localNames.has(name)) {
      options.logger?.warn({ migration: name }, 'applied migration has no local folder');
    }
  }
  const appliedNow: string[] = [];
  for (const migration of local) {
    if (applied.has(migration.name)) continue;
    await applyMigration(client, migration);
    options.logger?.info({ migration: migration.name }, 'migration applied');
    appliedNow.push(migration.name);
  }
  return appliedNow;
}

/**
 * Applies pending migrations in name order, each in its own transaction, keeping Prisma's
 * `_prisma_migrations` bookkeeping so `prisma migrate deploy` can take over where its engine
 * runs. Holds Prisma's advisory lock meanwhile, so concurrent callers queue up and the later one
 * finds nothing to do. Refuses to run when an applied migration's file changed or a failed row
 * exists. Returns the names it applied (empty when already up to date).
 *
 * Unlike Prisma, each script runs inside a transaction, so statements that cannot (such as
 * `CREATE INDEX CONCURRENTLY`) do not belong in these migrations.
 */
export async function migrate(options: MigrateOptions): Promise<string[]> {
  const client = new pg.Client({ connectionString: options.connectionString, application_name: 'migrate' });
  // Session errors (server restart) surface through the pending query; this only keeps Node from
  // treating an idle-time error as unhandled.
  client.on('error', () => undefined);
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [prismaMigrateLockKey]);
    try {
      return await migrateLocked(client, options);
    } finally {
      // Ending the session releases the lock anyway; unlocking first just frees it sooner.
      await client.query('SELECT pg_advisory_unlock($1)', [prismaMigrateLockKey]).catch(() => undefined);
    }
  } finally {
    await client.end();
  }
}
