import { randomUUID } from 'node:crypto';
import { generateBusTrust } from '@zerostate/bus';
import { createLogger } from '@zerostate/observability';
import { createService } from '@zerostate/service-kit';
import { migrationsDirOf } from '@zerostate/service-kit/migrate';
import {
  createTestDatabase,
  startNatsServer,
  type TestDatabase,
  type TestServer,
  waitUntil,
} from '@zerostate/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import taskService from '../src/service.js';

/**
 * Deadlines with several replicas (SPEC §2: anything periodic is safe with many): three task
 * service instances on one database and one NATS run their deadline jobs every 50 ms over tasks
 * whose timeouts and acceptance windows passed; each task moves exactly once, with one history row
 * and one outcome event. Payment is absent here, so the settlements they owe stay owed.
 */
let database: TestDatabase;
let nats: TestServer;

beforeAll(async () => {
  nats = await startNatsServer({ jetstream: true });
  database = await createTestDatabase({
    name: 'task_deadlines',
    migrationsDir: migrationsDirOf(new URL('../package.json', import.meta.url)),
  });
});
afterAll(async () => {
  await database?.drop();
  await nats?.stop();
});

const replica = () =>
  createService(taskService, {
    env: {
      NODE_ENV: 'test',
      NATS_URL: nats.url,
      TASK_DATABASE_URL: database.url,
      TASK_ADMIN_PORT: '0',
      DB_POOL_MIN_IDLE: '0',
      TASK_DEADLINE_INTERVAL_MS: '50',
      TASK_SAGA_INTERVAL_MS: '60000',
      BUS_TRUSTED_KEYS: generateBusTrust('task').trustedKeys,
      BUS_SIGNING_KEYS: ['payment', 'auction']
        .map((callee) => generateBusTrust(callee, 'task').signingKeys)
        .join(','),
    },
    logger: createLogger({ service: 'task', level: 'silent' }),
  });

async function query<Row extends pg.QueryResultRow>(sql: string, values: unknown[] = []): Promise<Row[]> {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    return (await client.query<Row>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

/** A task in `status` as the saga would have left it, its deadline a second ago. */
async function insertDueTask(status: 'running' | 'submitted'): Promise<string> {
  const id = randomUUID();
  const requester = randomUUID();
  await query(
    `INSERT INTO tasks (id, requester_id, requester_did, type, capabilities, input, budget, timeout_seconds,
       priority, status, auction_id, assigned_agent_id, agent_owner_id, cost, assigned_at, started_at,
       timeout_at, submitted_at, review_deadline, output)
     VALUES ($1, $2, $3, 'echo', '{text.upper}', '{}', 100, 5, 'normal', $4, $5, $6, $7, 40,
       now() - interval '6 seconds', now() - interval '5 seconds', $8, $9, $10, $11)`,
    [
      id,
      requester,
      `did:zerostate:user:${requester}`,
      status,
      randomUUID(),
      randomUUID(),
      randomUUID(),
      status === 'running' ? new Date(Date.now() - 1_000) : new Date(Date.now() + 60_000),
      status === 'submitted' ? new Date(Date.now() - 2_000) : null,
      status === 'submitted' ? new Date(Date.now() - 1_000) : null,
      status === 'submitted' ? '"done"' : null,
    ],
  );
  return id;
}

describe('when three replicas run the deadline job', () => {
  it('then every overdue task times out and every unreviewed result completes exactly once', async () => {
    const overdue = await Promise.all(Array.from({ length: 20 }, () => insertDueTask('running')));
    const unreviewed = await Promise.all(Array.from({ length: 20 }, () => insertDueTask('submitted')));
    const replicas = [replica(), replica(), replica()];
    await Promise.all(replicas.map((each) => each.start()));
    try {
      await waitUntil('every task moved', async () => {
        const [row] = await query<{ count: string }>(
          `SELECT count(*) AS count FROM tasks WHERE status IN ('running', 'submitted')`,
        );
        return row!.count === '0';
      });
      const statuses = await query<{ id: string; status: string; settlement: string }>(
        'SELECT id::text, status, settlement FROM tasks',
      );
      const byId = new Map(statuses.map((row) => [row.id, row]));
      for (const id of overdue)
        expect(byId.get(id)).toMatchObject({ status: 'timed_out', settlement: 'refund' });
      for (const id of unreviewed)
        expect(byId.get(id)).toMatchObject({ status: 'completed', settlement: 'capture' });
      const history = await query<{ task_id: string; moves: string }>(
        'SELECT task_id::text, count(*) AS moves FROM task_transitions GROUP BY task_id',
      );
      expect(history).toHaveLength(40);
      expect(history.every((row) => row.moves === '1')).toBe(true);
      const events = await query<{ subject: string; count: string }>(
        `SELECT subject, count(*) AS count FROM outbox WHERE subject <> 'evt.task.task.status-changed'
         GROUP BY subject ORDER BY subject`,
      );
      expect(events).toEqual([
        { subject: 'evt.task.task.completed', count: '20' },
        { subject: 'evt.task.task.timed-out', count: '20' },
      ]);
    } finally {
      await Promise.all(replicas.map((each) => each.stop()));
    }
  });
});
