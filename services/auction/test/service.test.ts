import { randomUUID } from 'node:crypto';
import { jetstream } from '@nats-io/jetstream';
import { connectBus, generateBusTrust, type NatsConnection } from '@zerostate/bus';
import { reputationEvents } from '@zerostate/contracts';
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
import auctionService from '../src/service.js';

let database: TestDatabase;
let nats: TestServer;
const service = () =>
  createService(auctionService, {
    env: {
      NODE_ENV: 'test',
      NATS_URL: nats.url,
      AUCTION_DATABASE_URL: database.url,
      AUCTION_ADMIN_PORT: '0',
      DB_POOL_MIN_IDLE: '0',
      BUS_TRUSTED_KEYS: generateBusTrust('auction').trustedKeys,
    },
    logger: createLogger({ service: 'auction', level: 'silent' }),
  });

beforeAll(async () => {
  nats = await startNatsServer({ jetstream: true });
  database = await createTestDatabase({
    name: 'auction',
    migrationsDir: migrationsDirOf(new URL('../package.json', import.meta.url)),
  });
});
afterAll(async () => {
  await database?.drop();
  await nats?.stop();
});

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

  it('when score updates arrive out of order and twice, then the read model keeps the highest version', async () => {
    const running = service();
    await running.start();
    const nc: NatsConnection = await connectBus({ servers: nats.url, name: 'test-publisher' });
    const db = new pg.Pool({ connectionString: database.url, max: 1 });
    try {
      const publish = async (agentId: string, version: number, overall: number, id = randomUUID()) => {
        const data = reputationEvents.scoreUpdated.payload.parse({
          agent_id: agentId,
          overall,
          reliability: overall,
          quality: overall - 1,
          speed: overall,
          version,
          updated_at: new Date().toISOString(),
        });
        const envelope = {
          id,
          type: reputationEvents.scoreUpdated.subject,
          occurred_at: new Date().toISOString(),
          data,
        };
        await jetstream(nc).publish(reputationEvents.scoreUpdated.subject, JSON.stringify(envelope), {
          msgID: id,
        });
        return id;
      };
      const row = async (agentId: string) =>
        (
          await db.query(
            'SELECT overall_hundredths, quality_hundredths, version FROM agent_scores WHERE agent_id = $1',
            [agentId],
          )
        ).rows[0];
      const agent = randomUUID();
      const third = await publish(agent, 3, 72.35);
      await publish(agent, 2, 40);
      await publish(agent, 3, 72.35, third);
      // Events of one subject arrive in order: once a later marker is applied, so were these.
      const marker = randomUUID();
      await publish(marker, 1, 50);
      await waitUntil('the marker is applied', async () => (await row(marker)) !== undefined);
      expect(await row(agent)).toEqual({ overall_hundredths: 7235, quality_hundredths: 7135, version: '3' });
      await publish(agent, 4, 80.5);
      await waitUntil('a newer version replaces it', async () => (await row(agent))?.version === '4');
      expect(await row(agent)).toEqual({ overall_hundredths: 8050, quality_hundredths: 7950, version: '4' });
    } finally {
      await db.end();
      await nc.close();
      await running.stop();
    }
  });
});
