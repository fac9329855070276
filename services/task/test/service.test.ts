import { generateBusTrust } from '@zerostate/bus';
import { createLogger } from '@zerostate/observability';
import { createService } from '@zerostate/service-kit';
import { migrationsDirOf } from '@zerostate/service-kit/migrate';
import { createTestDatabase, type TestDatabase } from '@zerostate/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import taskService from '../src/service.js';

let database: TestDatabase;
const service = () =>
  createService(taskService, {
    env: {
      NODE_ENV: 'test',
      TASK_DATABASE_URL: database.url,
      TASK_ADMIN_PORT: '0',
      DB_POOL_MIN_IDLE: '0',
      BUS_TRUSTED_KEYS: generateBusTrust('task').trustedKeys,
      // The task service calls payment and auction as itself.
      BUS_SIGNING_KEYS: ['payment', 'auction']
        .map((callee) => generateBusTrust(callee, 'task').signingKeys)
        .join(','),
    },
    logger: createLogger({ service: 'task', level: 'silent' }),
  });

beforeAll(async () => {
  database = await createTestDatabase({
    name: 'task',
    migrationsDir: migrationsDirOf(new URL('../package.json', import.meta.url)),
  });
});
afterAll(async () => database?.drop());

describe('the task service', () => {
  it('when it starts, then its admin port reports the database and NATS ready', async () => {
    const running = service();
    await running.start();
    try {
      const response = await fetch(`http://127.0.0.1:${running.adminPort()}/ready`);
      expect(await response.json()).toEqual({ status: 'ready', checks: { database: 'ok', nats: 'ok' } });
    } finally {
      await running.stop();
    }
  });
});
