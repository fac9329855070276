import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { PrismaPg } from '@prisma/adapter-pg';
import { paymentEndpoints } from '@zerostate/contracts';
import { checkSchemaDrift, prismaClientModels } from '@zerostate/database';
import { createTestDatabase, runSql, uniqueName } from '@zerostate/testkit';
import type pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PrismaClient } from '../src/generated/prisma/client.js';
import { migratePaymentDatabase, paymentMigrationsDir } from '../src/migrate.js';
import { credits, type Harness, scalar, startHarness, taskService, userPrincipal } from './harness.js';

/** The Postgres error a statement fails with (its code and message), or throws if it succeeds. */
async function refusal(db: pg.Pool | pg.PoolClient, sql: string, parameters: unknown[] = []) {
  try {
    await db.query(sql, parameters);
  } catch (error) {
    const { code, message } = error as { code?: string; message: string };
    return { code, message };
  }
  throw new Error(`expected the database to refuse: ${sql}`);
}

describe('payment database schema', () => {
  let harness: Harness;
  let prisma: PrismaClient;
  const admin = userPrincipal({ admin: true });
  const system = taskService();

  beforeAll(async () => {
    harness = await startHarness({ name: 'payment_schema' });
    prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: harness.databaseUrl }) });
  });
  afterAll(async () => {
    await prisma?.$disconnect();
    await harness?.stop();
  });

  // SPEC §4.2: the invariants hold after every test, refused statements included.
  afterEach(async () => {
    const report = await harness.call(paymentEndpoints.reconcile, {}, admin);
    expect(report.violations).toEqual([]);
    expect(report.ok).toBe(true);
  });

  describe('migrations and the Prisma schema', () => {
    it('when the database is migrated from the SQL files, then it matches the generated client models', async () => {
      const models = prismaClientModels(prisma);

      expect(Object.keys(models.full.models).sort()).toEqual(Object.keys(models.runtime.models).sort());
      expect(Object.keys(models.full.models).sort()).toEqual([
        'Account',
        'AuditLog',
        'ChannelTransaction',
        'Escrow',
        'IdempotencyRecord',
        'LedgerEntry',
        'Outbox',
        'PaymentChannel',
        'PeriodicJob',
        'ProcessedEvent',
        'ReconciliationRun',
        'Transfer',
      ]);
      expect(await checkSchemaDrift({ connectionString: harness.databaseUrl, models: models.full })).toEqual(
        [],
      );
      expect(
        await checkSchemaDrift({ connectionString: harness.databaseUrl, models: models.runtime }),
      ).toEqual([]);
    });

    it('when a migrated database loses a column, an index and a NOT NULL, then the drift check reports each', async () => {
      const scratch = await createTestDatabase({
        name: 'payment_schema_drift',
        migrationsDir: paymentMigrationsDir,
      });
      try {
        await runSql(
          scratch.url,
          `ALTER TABLE "channel_transactions" DROP COLUMN "signature";
           DROP INDEX "ledger_entries_account_id_id_idx";
           ALTER TABLE "escrows" ALTER COLUMN "payer_did" DROP NOT NULL;`,
        );

        expect(
          await checkSchemaDrift({ connectionString: scratch.url, models: prismaClientModels(prisma).full }),
        ).toEqual([
          'column channel_transactions.signature (ChannelTransaction.signature) is missing',
          'column escrows.payer_did (Escrow.payerDid) is nullable, expected NOT NULL',
          'index on ledger_entries (account_id, id) (model LedgerEntry) is missing',
        ]);
      } finally {
        await scratch.drop();
      }
    });

    it('when the payment database does not exist, then it is created and migrated, and a second run applies nothing', async () => {
      const name = uniqueName('zs_test_payment_migrate');
      const url = `postgresql://postgres@127.0.0.1:5432/${name}`;
      try {
        const onDisk = readdirSync(paymentMigrationsDir, { withFileTypes: true })
          .filter((entry) => entry.isDirectory())
          .map((entry) => entry.name)
          .sort();
        expect(onDisk[0]).toBe('20261128000000_init');
        expect(await migratePaymentDatabase(url)).toEqual(onDisk);
        expect(await migratePaymentDatabase(url)).toEqual([]);
      } finally {
        await runSql(
          'postgresql://postgres@127.0.0.1:5432/postgres',
          `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`,
        );
      }
    });
  });

  describe('guards the database keeps itself', () => {
    it('when a transfer, a ledger entry, a channel payment or an audit row is updated or deleted, then a trigger refuses', async () => {
      const payer = userPrincipal();
      const deposit = await harness.call(paymentEndpoints.deposit, { amount: credits(3) }, payer);
      const channel = await harness.call(
        paymentEndpoints.openChannel,
        { payee_did: userPrincipal().did, amount: credits(1) },
        payer,
      );
      await harness.call(
        paymentEndpoints.payChannel,
        { id: channel.id, amount: 10, sequence_number: 1 },
        payer,
      );
      const statements: [string, unknown[]][] = [
        ['UPDATE transfers SET amount = amount + 1 WHERE id = $1', [deposit.transfer_id]],
        ['DELETE FROM transfers WHERE id = $1', [deposit.transfer_id]],
        ['UPDATE ledger_entries SET amount = amount * 2 WHERE transfer_id = $1', [deposit.transfer_id]],
        ['DELETE FROM ledger_entries WHERE transfer_id = $1', [deposit.transfer_id]],
        ['UPDATE channel_transactions SET amount = 20 WHERE channel_id = $1', [channel.id]],
        ['DELETE FROM channel_transactions WHERE channel_id = $1', [channel.id]],
        ['UPDATE audit_log SET actor_did = NULL WHERE target_id = $1', [deposit.transfer_id]],
        ['DELETE FROM audit_log WHERE target_id = $1', [deposit.transfer_id]],
      ];

      for (const [sql, parameters] of statements) {
        expect(await refusal(harness.db, sql, parameters)).toEqual({
          code: '23001',
          message: expect.stringMatching(/the ledger is append-only: (UPDATE|DELETE) on \w+ is refused/),
        });
      }

      expect(
        await scalar(harness.db, 'SELECT amount FROM transfers WHERE id = $1', [deposit.transfer_id]),
      ).toBe(String(credits(3)));
      expect(
        await scalar(harness.db, 'SELECT count(*) FROM ledger_entries WHERE transfer_id = $1', [
          deposit.transfer_id,
        ]),
      ).toBe('2');
      expect(
        await scalar(harness.db, 'SELECT amount FROM channel_transactions WHERE channel_id = $1', [
          channel.id,
        ]),
      ).toBe('10');
    });

    it('when the ledger tables are truncated, then a statement trigger refuses', async () => {
      await harness.call(paymentEndpoints.deposit, { amount: credits(1) }, userPrincipal());
      const before = await scalar(harness.db, 'SELECT count(*) FROM ledger_entries');

      // transfers is referenced by ledger_entries, so only TRUNCATE ... CASCADE gets as far as the trigger.
      for (const sql of ['TRUNCATE ledger_entries', 'TRUNCATE transfers CASCADE']) {
        expect(await refusal(harness.db, sql)).toEqual({
          code: '23001',
          message: expect.stringMatching(/the ledger is append-only: TRUNCATE on \w+ is refused/),
        });
      }

      expect(await scalar(harness.db, 'SELECT count(*) FROM ledger_entries')).toBe(before);
    });

    it('when a balance would go negative, then the CHECK constraint refuses it', async () => {
      const user = userPrincipal();
      await harness.call(paymentEndpoints.deposit, { amount: 500 }, user);

      for (const column of ['available', 'held', 'total_deposited', 'total_withdrawn']) {
        const refused = await refusal(harness.db, `UPDATE accounts SET ${column} = -1 WHERE owner_did = $1`, [
          user.did,
        ]);
        expect(refused).toEqual({
          code: '23514',
          message: expect.stringContaining('accounts_balances_check'),
        });
      }

      expect(await harness.call(paymentEndpoints.balance, {}, user)).toMatchObject({
        available: 500,
        held: 0,
      });
    });

    it('when a one-time transfer is written twice for one reference, then the partial unique index refuses the second', async () => {
      const client = await harness.db.connect();
      const referenceId = randomUUID();
      const insert = `INSERT INTO transfers (id, kind, amount, reference_id) VALUES ($1, $2, 100, $3)`;
      try {
        await client.query('BEGIN');
        // Deposits and withdrawals are outside the index: two with one reference are fine.
        await client.query(insert, [randomUUID(), 'deposit', referenceId]);
        await client.query(insert, [randomUUID(), 'deposit', referenceId]);
        await client.query(insert, [randomUUID(), 'escrow_capture', referenceId]);
        await client.query('SAVEPOINT second_capture');
        const refused = await refusal(client, insert, [randomUUID(), 'escrow_capture', referenceId]);
        await client.query('ROLLBACK TO SAVEPOINT second_capture');
        // Another one-time kind for the same reference is a different movement.
        await client.query(insert, [randomUUID(), 'escrow_return', referenceId]);

        expect(refused).toEqual({
          code: '23505',
          message: expect.stringContaining('transfers_one_time_key'),
        });
      } finally {
        // Nothing here is meant to stay: these transfers have no entries.
        await client.query('ROLLBACK');
        client.release();
      }
      expect(
        await scalar(harness.db, 'SELECT count(*) FROM transfers WHERE reference_id = $1', [referenceId]),
      ).toBe('0');
    });
  });

  describe('payment_statistics', () => {
    /**
     * The view's rows summed over every day, so a run that crosses UTC midnight between two reads
     * still sees exact differences.
     */
    async function statisticsTotals() {
      const result = await harness.db.query(
        `SELECT coalesce(sum(transactions), 0)::text AS transactions, coalesce(sum(deposits), 0)::text AS deposits,
                coalesce(sum(withdrawals), 0)::text AS withdrawals, coalesce(sum(settlements), 0)::text AS settlements,
                coalesce(sum(settlement_count), 0)::text AS settlement_count, coalesce(sum(refunds), 0)::text AS refunds
         FROM payment_statistics`,
      );
      return Object.fromEntries(
        Object.entries(result.rows[0] as Record<string, string>).map(([key, value]) => [key, BigInt(value)]),
      );
    }

    it('when money is deposited, withdrawn, settled and refunded, then the day row counts and sums each', async () => {
      const before = await statisticsTotals();
      const payer = userPrincipal();
      const payee = userPrincipal();

      await harness.call(paymentEndpoints.deposit, { amount: credits(10) }, payer);
      await harness.call(paymentEndpoints.withdraw, { amount: credits(1) }, payer);
      const channel = await harness.call(
        paymentEndpoints.openChannel,
        { payee_did: payee.did, amount: credits(4) },
        payer,
      );
      await harness.call(
        paymentEndpoints.payChannel,
        { id: channel.id, amount: 1_500_000, sequence_number: 1 },
        payer,
      );
      await harness.call(paymentEndpoints.closeChannel, { id: channel.id }, payee);
      const taskId = randomUUID();
      await harness.call(
        paymentEndpoints.holdEscrow,
        { task_id: taskId, payer_did: payer.did, amount: credits(3) },
        system,
      );
      await harness.call(
        paymentEndpoints.captureEscrow,
        { task_id: taskId, payee_did: payee.did, amount: 2_500_000 },
        system,
      );

      const after = await statisticsTotals();
      // deposit, withdrawal, channel_funding, channel_settlement, channel_refund, escrow_hold,
      // escrow_capture, escrow_return.
      expect(after.transactions! - before.transactions!).toBe(8n);
      expect(after.deposits! - before.deposits!).toBe(BigInt(credits(10)));
      expect(after.withdrawals! - before.withdrawals!).toBe(BigInt(credits(1)));
      expect(after.settlements! - before.settlements!).toBe(1_500_000n + 2_500_000n);
      expect(after.settlement_count! - before.settlement_count!).toBe(2n);
      expect(after.refunds! - before.refunds!).toBe(2_500_000n + 500_000n);
      const days = await harness.db.query(
        `SELECT day::text, transactions::int, deposits::text, withdrawals::text, settlements::text,
                settlement_count::text, refunds::text, average_settlement::text
         FROM payment_statistics ORDER BY day DESC`,
      );
      for (const day of days.rows) {
        // avg of positive integers, rounded half up by Postgres: (2 * sum + count) / (2 * count).
        const count = BigInt(day.settlement_count);
        const expected = count === 0n ? 0n : (2n * BigInt(day.settlements) + count) / (2n * count);
        expect(BigInt(day.average_settlement)).toBe(expected);
      }

      const report = await harness.call(paymentEndpoints.statistics, {}, admin);
      expect(report.items).toEqual(
        days.rows.map((day) => ({
          day: day.day,
          transactions: day.transactions,
          deposits: day.deposits,
          withdrawals: day.withdrawals,
          settlements: day.settlements,
          refunds: day.refunds,
          average_settlement: day.average_settlement,
        })),
      );
      const newest = String(days.rows[0].day);
      const oneDay = await harness.call(paymentEndpoints.statistics, { from: newest, to: newest }, admin);
      expect(oneDay.items.map((item) => item.day)).toEqual([newest]);
      const beforeAny = await harness.call(paymentEndpoints.statistics, { to: '2000-01-01' }, admin);
      expect(beforeAny.items).toEqual([]);
    });
  });
});
