import { generateBusTrust } from '@zerostate/bus';
import { createLogger } from '@zerostate/observability';
import { createService } from '@zerostate/service-kit';
import { migrationsDirOf } from '@zerostate/service-kit/migrate';
import { createTestDatabase, type TestDatabase } from '@zerostate/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import auctionService from '../src/service.js';

let database: TestDatabase;
const service = () =>
  createService(auctionService, {
    env: {
      NODE_ENV: 'test',
      AUCTION_DATABASE_URL: database.url,
      AUCTION_ADMIN_PORT: '0',
      DB_POOL_MIN_IDLE: '0',
      BUS_TRUSTED_KEYS: generateBusTrust('auction').trustedKeys,
    },
    logger: createLogger({ service: 'auction', level: 'silent' }),
  });

beforeAll(async () => {
  database = await createTestDatabase({
    name: 'auction',
    migrationsDir: migrationsDirOf(new URL('../package.json', import.meta.url)),
  });
});
afterAll(async () => database?.drop());

describe('the auction service', () => {
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
