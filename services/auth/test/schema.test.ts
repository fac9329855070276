import { readdirSync } from 'node:fs';
import { PrismaPg } from '@prisma/adapter-pg';
import {
  checkSchemaDrift,
  mapPrismaError,
  prismaClientModels,
  queryMetricsExtension,
} from '@zerostate/database';
import { AppError } from '@zerostate/errors';
import { Registry } from '@zerostate/observability';
import { createTestDatabase, runSql, type TestDatabase, uniqueName } from '@zerostate/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrismaClient } from '../src/generated/prisma/client.js';
import { authMigrationsDir, migrateAuthDatabase } from '../src/migrate.js';

describe('auth database schema', () => {
  let database: TestDatabase;
  let prisma: PrismaClient;

  beforeAll(async () => {
    database = await createTestDatabase({ name: 'auth_schema', migrationsDir: authMigrationsDir });
    prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: database.url }) });
  });

  afterAll(async () => {
    await prisma.$disconnect();
    await database.drop();
  });

  it('when the auth database is migrated from the SQL files, then it matches the generated client models', async () => {
    const models = prismaClientModels(prisma);

    expect(Object.keys(models.full.models).sort()).toEqual(Object.keys(models.runtime.models).sort());
    expect(await checkSchemaDrift({ connectionString: database.url, models: models.full })).toEqual([]);
    expect(await checkSchemaDrift({ connectionString: database.url, models: models.runtime })).toEqual([]);
  });

  it('when the migrated database loses a column and a NOT NULL, then the drift check reports both', async () => {
    const scratch = await createTestDatabase({ name: 'auth_schema_drift', migrationsDir: authMigrationsDir });
    try {
      await runSql(
        scratch.url,
        'ALTER TABLE "api_keys" DROP COLUMN "last_used_at"; ALTER TABLE "users" ALTER COLUMN "did" DROP NOT NULL;',
      );

      expect(
        await checkSchemaDrift({ connectionString: scratch.url, models: prismaClientModels(prisma).full }),
      ).toEqual([
        'column api_keys.last_used_at (ApiKey.lastUsedAt) is missing',
        'column users.did (User.did) is nullable, expected NOT NULL',
      ]);
    } finally {
      await scratch.drop();
    }
  });

  /** Applies `sql` to a freshly migrated scratch database and returns what the drift check reports. */
  async function driftAfter(sql: string): Promise<string[]> {
    const scratch = await createTestDatabase({ name: 'auth_schema_drift', migrationsDir: authMigrationsDir });
    try {
      await runSql(scratch.url, sql);
      return await checkSchemaDrift({
        connectionString: scratch.url,
        models: prismaClientModels(prisma).full,
      });
    } finally {
      await scratch.drop();
    }
  }

  it('when the unique index on users.email is dropped, then the drift check reports it', async () => {
    expect(await driftAfter('DROP INDEX "users_email_key"')).toEqual([
      'unique index on users (email) (model User) is missing',
    ]);
  });

  it('when a foreign key is dropped, then the drift check reports it', async () => {
    expect(await driftAfter('ALTER TABLE "api_keys" DROP CONSTRAINT "api_keys_user_id_fkey"')).toEqual([
      'foreign key on api_keys (user_id) referencing users (id) (model ApiKey) is missing',
    ]);
  });

  it('when a plain index is dropped, then the drift check reports it', async () => {
    expect(await driftAfter('DROP INDEX "refresh_tokens_family_id_idx"')).toEqual([
      'index on refresh_tokens (family_id) (model RefreshToken) is missing',
    ]);
  });

  it('when a column default is dropped, then the drift check reports it', async () => {
    expect(await driftAfter('ALTER TABLE "users" ALTER COLUMN "is_active" DROP DEFAULT')).toEqual([
      'column users.is_active (User.isActive) has no default, expected true',
    ]);
  });

  it('when an email is stored with capitals, then the database refuses it', async () => {
    const create = prisma.user.create({
      data: {
        id: crypto.randomUUID(),
        email: 'Someone@Example.test',
        passwordHash: 'x',
        did: uniqueName('did'),
      },
    });

    await expect(create).rejects.toThrow(/users_email_lower_check/);
  });
});

describe('@zerostate/database on the auth client', () => {
  let database: TestDatabase;
  let prisma: PrismaClient;

  beforeAll(async () => {
    database = await createTestDatabase({ name: 'auth_client', migrationsDir: authMigrationsDir });
    prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: database.url }) });
  });

  afterAll(async () => {
    await prisma.$disconnect();
    await database.drop();
  });

  function newUser() {
    return {
      id: crypto.randomUUID(),
      email: `${uniqueName('user')}@example.test`,
      passwordHash: 'x',
      did: uniqueName('did'),
    };
  }

  it('when queries run through the metrics extension, then their durations are observed by model and operation', async () => {
    const registry = new Registry();
    const measured = prisma.$extends(queryMetricsExtension(registry));

    await measured.user.create({ data: newUser() });
    await measured.user.findMany({ take: 1 });
    await measured.$queryRaw`SELECT 1`;

    const text = await registry.metrics();
    expect(text).toContain('db_query_duration_seconds_count{model="User",operation="create"} 1');
    expect(text).toContain('db_query_duration_seconds_count{model="User",operation="findMany"} 1');
    expect(text).toContain('db_query_duration_seconds_count{model="raw",operation="$queryRaw"} 1');
  });

  it('when Prisma reports a unique violation or a missing record, then they map to CONFLICT and NOT_FOUND', async () => {
    const user = newUser();
    await prisma.user.create({ data: user });
    const duplicate = await prisma.user
      .create({ data: { ...newUser(), email: user.email } })
      .catch((error) => error);
    const missing = await prisma.user
      .update({ where: { id: crypto.randomUUID() }, data: { name: 'nobody' } })
      .catch((error) => error);

    const conflict = mapPrismaError(duplicate);
    const notFound = mapPrismaError(missing);

    expect(conflict).toBeInstanceOf(AppError);
    expect((conflict as AppError).code).toBe('CONFLICT');
    expect((conflict as AppError).cause).toBe(duplicate);
    expect(notFound).toBeInstanceOf(AppError);
    expect((notFound as AppError).code).toBe('NOT_FOUND');
  });
});

describe('migrateAuthDatabase', () => {
  it('when the auth database does not exist, then it is created and migrated, and a second run applies nothing', async () => {
    const name = uniqueName('zs_test_auth_migrate');
    const url = `postgresql://postgres@127.0.0.1:5432/${name}`;
    try {
      const onDisk = readdirSync(authMigrationsDir, { withFileTypes: true })
        .filter((entry) => entry.isDirectory())
        .map((entry) => entry.name)
        .sort();
      expect(onDisk[0]).toBe('20261127000000_init');
      expect(await migrateAuthDatabase(url)).toEqual(onDisk);
      expect(await migrateAuthDatabase(url)).toEqual([]);
    } finally {
      await runSql(
        'postgresql://postgres@127.0.0.1:5432/postgres',
        `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`,
      );
    }
  });
});
