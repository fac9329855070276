import { PrismaPg } from '@prisma/adapter-pg';
import { paymentEndpoints } from '@zerostate/contracts';
import { createRegistry } from '@zerostate/observability';
import { readStreamMessages } from '@zerostate/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrismaClient } from '../src/generated/prisma/client.js';
import { createPaymentMetrics } from '../src/metrics.js';
import { housekeep } from '../src/periodic.js';
import { credits, type Harness, startHarness, userPrincipal } from './harness.js';

let harness: Harness;

beforeAll(async () => {
  harness = await startHarness({ name: 'payment_lifecycle' });
});
afterAll(async () => harness?.stop());

describe('events', () => {
  it('when money is deposited, then evt.payment.deposit.completed reaches JetStream with the outbox id as message id', async () => {
    const user = userPrincipal();
    const deposit = await harness.call(paymentEndpoints.deposit, { amount: credits(4) }, user);
    const outbox = await harness.db.query(
      `SELECT id FROM outbox WHERE subject = 'evt.payment.deposit.completed' AND payload->>'transfer_id' = $1`,
      [deposit.transfer_id],
    );
    const eventId = outbox.rows[0].id;
    const messages = await readStreamMessages(harness.nc, {
      stream: 'EVENTS',
      subject: 'evt.payment.deposit.completed',
      count: 1,
    });
    expect(messages.find((message) => message.messageId === eventId)?.body).toMatchObject({
      id: eventId,
      type: 'evt.payment.deposit.completed',
      data: { transfer_id: deposit.transfer_id, owner_did: user.did, amount: credits(4) },
    });
  });
});

describe('housekeeping', () => {
  it('when idempotency records pass the retention, then they are deleted and fresh ones kept', async () => {
    const insert = `INSERT INTO idempotency_records (scope, key, endpoint, fingerprint, response, created_at)
      VALUES ($1, $2, 'deposit', repeat('a', 64), '{}', now() - $3::interval)`;
    await harness.db.query(insert, ['scope-1', 'old-key', '25 hours']);
    await harness.db.query(insert, ['scope-1', 'recent-key', '23 hours']);
    const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: harness.databaseUrl }) });
    try {
      const deleted = await housekeep({
        prisma,
        pool: harness.db,
        metrics: createPaymentMetrics(createRegistry('payment')),
        idempotencyRetentionHours: 24,
      });
      expect(deleted.idempotencyRecords).toBe(1);
    } finally {
      await prisma.$disconnect();
    }
    const kept = await harness.db.query(`SELECT key FROM idempotency_records WHERE scope = 'scope-1'`);
    expect(kept.rows.map((row) => row.key)).toEqual(['recent-key']);
  });

  it('when retention is configured below 24 hours, then the configuration is refused', async () => {
    const { loadPaymentConfig } = await import('../src/config.js');
    expect(() => loadPaymentConfig({ IDEMPOTENCY_RETENTION_HOURS: '23' })).toThrow(
      /IDEMPOTENCY_RETENTION_HOURS/,
    );
  });
});

describe('admin port', () => {
  it('when the service is up, then /ready reports the database and NATS', async () => {
    const response = await fetch(`http://127.0.0.1:${harness.service.adminPort()}/ready`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ checks: { database: 'ok', nats: 'ok' } });
  });
});
