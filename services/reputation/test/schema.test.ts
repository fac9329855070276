import { PrismaPg } from '@prisma/adapter-pg';
import { checkSchemaDrift, prismaClientModels } from '@zerostate/database';
import { migrationsDirOf } from '@zerostate/service-kit/migrate';
import { createTestDatabase, type TestDatabase } from '@zerostate/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrismaClient } from '../src/generated/prisma/client.js';

describe('reputation database schema', () => {
  let database: TestDatabase;
  let prisma: PrismaClient;
  let pool: pg.Pool;

  beforeAll(async () => {
    database = await createTestDatabase({
      name: 'reputation_schema',
      migrationsDir: migrationsDirOf(new URL('../package.json', import.meta.url)),
    });
    prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: database.url }) });
    pool = new pg.Pool({ connectionString: database.url, max: 2 });
    pool.on('error', () => undefined);
  });
  afterAll(async () => {
    await prisma?.$disconnect();
    await pool?.end();
    await database?.drop();
  });

  it('when the database is migrated from the SQL files, then it matches the generated client models', async () => {
    const models = prismaClientModels(prisma);
    expect(Object.keys(models.full.models).sort()).toEqual([
      'AgentPerformance',
      'Dealing',
      'Outbox',
      'PeriodicJob',
      'ProcessedEvent',
      'Rating',
      'Score',
      'ScoreEvent',
      'Task',
    ]);
    expect(await checkSchemaDrift({ connectionString: database.url, models: models.full })).toEqual([]);
  });

  it('when a rating outside 1–5, a score above 100 or a negative amount is written, then the database refuses it', async () => {
    const id = '00000000-0000-4000-8000-000000000001';
    const refusals: string[] = [];
    for (const [sql, parameters] of [
      [
        'INSERT INTO ratings (task_id, agent_id, requester_id, rating, cost_micro) VALUES ($1, $1, $1, 6, 1)',
        [id],
      ],
      [
        'INSERT INTO scores (agent_id, overall_hundredths, reliability_hundredths, quality_hundredths, speed_hundredths, version, computed_at) VALUES ($1, 10001, 0, 0, 0, 1, now())',
        [id],
      ],
      [
        "INSERT INTO score_events (id, agent_id, requester_id, task_id, kind, amount_micro, occurred_at, self_dealt) VALUES ($1, $1, $1, $1, 'completed', -1, now(), false)",
        [id],
      ],
    ] as const) {
      const failed = await pool.query(sql, [...parameters]).then(
        () => undefined,
        (error: { code?: string }) => error.code,
      );
      refusals.push(String(failed));
    }
    expect(refusals).toEqual(['23514', '23514', '23514']);
  });
});
