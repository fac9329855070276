import { randomUUID } from 'node:crypto';
import { PrismaPg } from '@prisma/adapter-pg';
import { checkSchemaDrift, prismaClientModels } from '@zerostate/database';
import { migrationsDirOf } from '@zerostate/service-kit/migrate';
import { createTestDatabase, type TestDatabase } from '@zerostate/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrismaClient } from '../src/generated/prisma/client.js';

/** The task database: the SQL migrations match the Prisma schema, and the history cannot be rewritten. */
let database: TestDatabase;
let prisma: PrismaClient;

beforeAll(async () => {
  database = await createTestDatabase({
    name: 'task_schema',
    migrationsDir: migrationsDirOf(new URL('../package.json', import.meta.url)),
  });
  prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: database.url }) });
});
afterAll(async () => {
  await prisma?.$disconnect();
  await database?.drop();
});

async function refusal(sql: string, values: unknown[] = []): Promise<string> {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    await client.query(sql, values);
  } catch (error) {
    return (error as Error).message;
  } finally {
    await client.end();
  }
  throw new Error(`expected the database to refuse: ${sql}`);
}

describe('the task database', () => {
  it('when it is migrated from the SQL files, then it matches the generated client models', async () => {
    const models = prismaClientModels(prisma);
    expect(Object.keys(models.full.models).sort()).toEqual([
      'Outbox',
      'PeriodicJob',
      'ProcessedEvent',
      'Task',
      'TaskTransition',
    ]);
    expect(await checkSchemaDrift({ connectionString: database.url, models: models.full })).toEqual([]);
  });

  it('when a transition is updated or deleted, or a task with history removed, then the database refuses', async () => {
    const taskId = randomUUID();
    const requester = randomUUID();
    await prisma.task.create({
      data: {
        id: taskId,
        requesterId: requester,
        requesterDid: `did:zerostate:user:${requester}`,
        type: 'echo',
        capabilities: ['text.upper'],
        input: {},
        budget: 10n,
        timeoutSeconds: 30,
        priority: 'normal',
        status: 'auctioning',
      },
    });
    await prisma.taskTransition.create({
      data: {
        id: randomUUID(),
        taskId,
        fromStatus: 'pending',
        toStatus: 'auctioning',
        action: 'open',
        actor: 'test',
      },
    });
    expect(await refusal(`UPDATE task_transitions SET to_status = 'completed'`)).toMatch(/append-only/);
    expect(await refusal('DELETE FROM task_transitions')).toMatch(/append-only/);
    expect(await refusal('TRUNCATE task_transitions CASCADE')).toMatch(/append-only/);
    expect(await refusal('DELETE FROM tasks WHERE id = $1', [taskId])).toMatch(/foreign key/);
    expect(await refusal(`UPDATE tasks SET status = 'failed' WHERE id = $1`, [taskId])).toMatch(
      /tasks_failed_error_check/,
    );
    expect(await prisma.taskTransition.count({ where: { taskId } })).toBe(1);
  });
});
