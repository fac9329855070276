import { PrismaPg } from '@prisma/adapter-pg';
import { loadConfig } from '@zerostate/config';
import { paymentEndpoints } from '@zerostate/contracts';
import { createLogger, createRegistry } from '@zerostate/observability';
import { readStreamMessages } from '@zerostate/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrismaClient } from '../src/generated/prisma/client.js';
import { housekeep } from '../src/housekeeping.js';
import { createPaymentMetrics } from '../src/metrics.js';
import { sweepExpiredChannels } from '../src/settlement.js';
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
  it('when idempotency records and clean reconciliation runs pass their retention, then they go and the rest stay', async () => {
    const insert = `INSERT INTO idempotency_records (scope, key, endpoint, fingerprint, response, created_at)
      VALUES ($1, $2, 'deposit', repeat('a', 64), '{}', now() - $3::interval)`;
    await harness.db.query(insert, ['scope-1', 'old-key', '25 hours']);
    await harness.db.query(insert, ['scope-1', 'recent-key', '23 hours']);
    const run = `INSERT INTO reconciliation_runs (id, trigger, violations, report, created_at)
      VALUES (gen_random_uuid(), 'scheduled', $1, '{}', now() - $2::interval)`;
    await harness.db.query(run, [0, '91 days']);
    await harness.db.query(run, [2, '91 days']);
    await harness.db.query(run, [0, '89 days']);
    const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: harness.databaseUrl }) });
    try {
      const deleted = await housekeep({
        prisma,
        pool: harness.db,
        metrics: createPaymentMetrics(createRegistry('payment')),
        idempotencyRetentionHours: 24,
      });
      expect(deleted.idempotencyRecords).toBe(1);
      expect(deleted.reconciliationRuns).toBe(1);
    } finally {
      await prisma.$disconnect();
    }
    const kept = await harness.db.query(`SELECT key FROM idempotency_records WHERE scope = 'scope-1'`);
    expect(kept.rows.map((row) => row.key)).toEqual(['recent-key']);
    const runs = await harness.db.query(
      `SELECT violations, extract(day FROM now() - created_at)::int AS age FROM reconciliation_runs
       WHERE created_at < now() - interval '1 day' ORDER BY age`,
    );
    expect(runs.rows).toEqual([
      { violations: 0, age: 89 },
      { violations: 2, age: 91 },
    ]);
  });

  it('when retention is configured below 24 hours, then the configuration is refused', async () => {
    const { paymentConfigSchema } = await import('../src/config.js');
    expect(() => loadConfig(paymentConfigSchema, { IDEMPOTENCY_RETENTION_HOURS: '23' })).toThrow(
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

describe('expired channels', () => {
  it('when a channel expired past the grace and nobody closed it, then the sweep settles it like a reclaim', async () => {
    const payer = await harness.funded(credits(3));
    const payee = userPrincipal();
    const expiring = await harness.call(
      paymentEndpoints.openChannel,
      { payee_did: payee.did, amount: credits(2) },
      payer,
    );
    const live = await harness.call(
      paymentEndpoints.openChannel,
      { payee_did: payee.did, amount: 100 },
      payer,
    );
    await harness.call(
      paymentEndpoints.payChannel,
      { id: expiring.id, amount: 700, sequence_number: 1 },
      payer,
    );
    await harness.db.query(
      `UPDATE payment_channels SET expires_at = now() - interval '10 minutes' WHERE id = $1`,
      [expiring.id],
    );
    const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: harness.databaseUrl }) });
    try {
      const logger = createLogger({ service: 'payment-channel', level: 'silent' });
      // Within the grace the parties may still close it themselves: nothing happens.
      expect(await sweepExpiredChannels({ prisma, logger, graceMs: 3_600_000 })).toBe(0);
      expect(await sweepExpiredChannels({ prisma, logger, graceMs: 300_000 })).toBe(1);
      expect(await sweepExpiredChannels({ prisma, logger, graceMs: 300_000 })).toBe(0);
    } finally {
      await prisma.$disconnect();
    }
    const swept = await harness.call(paymentEndpoints.getChannel, { id: expiring.id }, payer);
    expect(swept).toMatchObject({
      status: 'expired',
      settled_amount: 700,
      refunded_amount: credits(2) - 700,
    });
    expect((await harness.call(paymentEndpoints.getChannel, { id: live.id }, payer)).status).toBe('open');
    expect((await harness.call(paymentEndpoints.balance, {}, payee)).available).toBe(700);
    expect((await harness.call(paymentEndpoints.balance, {}, payer)).available).toBe(credits(3) - 100 - 700);
    await harness.expectReconciled();
  });
});
