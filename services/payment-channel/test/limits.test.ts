import { PrismaPg } from '@prisma/adapter-pg';
import { paymentEndpoints } from '@zerostate/contracts';
import { createLogger } from '@zerostate/observability';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrismaClient } from '../src/generated/prisma/client.js';
import { openChannelsPerPayerMax } from '../src/handlers/channels.js';
import { sweepExpiredChannels } from '../src/settlement.js';
import { credits, type Harness, scalar, startHarness, userPrincipal } from './harness.js';

describe('limits', () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await startHarness({ name: 'payment_limits' });
  });
  afterAll(async () => harness?.stop());

  it('when a payer already keeps the most open channels, then opening one more is a conflict and nothing moves', async () => {
    const payer = userPrincipal();
    const payee = userPrincipal();
    const first = await harness.call(paymentEndpoints.deposit, { amount: credits(2) }, payer);
    const channel = await harness.call(
      paymentEndpoints.openChannel,
      { payee_did: payee.did, amount: 1 },
      payer,
    );
    // Copies of the real channel stand in for the rest: this database is not reconciled afterwards.
    await harness.db.query(
      `INSERT INTO payment_channels (id, payer_account_id, payer_did, payee_account_id, payee_did, status, deposit, locked, expires_at)
       SELECT gen_random_uuid(), payer_account_id, payer_did, payee_account_id, payee_did, 'open', 1, 1, expires_at
       FROM payment_channels, generate_series(2, $2) WHERE id = $1`,
      [channel.id, openChannelsPerPayerMax],
    );
    expect(
      await harness.failure(paymentEndpoints.openChannel, { payee_did: payee.did, amount: 1 }, payer),
    ).toBe('CONFLICT');
    const balance = await harness.call(paymentEndpoints.balance, {}, payer);
    expect(balance.available).toBe(first.balance.available - 1);
    expect(await scalar(harness.db, `SELECT count(*) FROM transfers WHERE kind = 'channel_funding'`)).toBe(
      '1',
    );
  });

  it('when a deposit would take the balance past 2^53 - 1, then ACCOUNT_LIMIT_EXCEEDED and nothing moves', async () => {
    const user = userPrincipal();
    await harness.call(paymentEndpoints.deposit, { amount: 1 }, user);
    await harness.db.query(
      `UPDATE accounts SET available = 9007199254740991 - 5, total_deposited = 9007199254740991 - 5 WHERE owner_did = $1`,
      [user.did],
    );
    expect(await harness.failure(paymentEndpoints.deposit, { amount: 10 }, user)).toBe(
      'ACCOUNT_LIMIT_EXCEEDED',
    );
    expect(
      await scalar(
        harness.db,
        `SELECT count(*) FROM transfers t JOIN ledger_entries e ON e.transfer_id = t.id
         JOIN accounts a ON a.id = e.account_id WHERE a.owner_did = $1`,
        [user.did],
      ),
    ).toBe('2');
  });

  it('when an expired channel cannot be settled, then the sweep skips it and settles the ones after it', async () => {
    const payer = await harness.funded(credits(1));
    const [stuckPayee, payee] = [userPrincipal(), userPrincipal()];
    const stuck = await harness.call(
      paymentEndpoints.openChannel,
      { payee_did: stuckPayee.did, amount: 50 },
      payer,
    );
    const later = await harness.call(
      paymentEndpoints.openChannel,
      { payee_did: payee.did, amount: 50 },
      payer,
    );
    await harness.call(paymentEndpoints.payChannel, { id: stuck.id, amount: 10, sequence_number: 1 }, payer);
    await harness.db.query(
      `UPDATE payment_channels SET expires_at = now() - CASE WHEN id = $1 THEN interval '2 hours' ELSE interval '1 hour' END
       WHERE id = ANY($2)`,
      [stuck.id, [stuck.id, later.id]],
    );
    // The stuck payee's balance sits at the largest amount an account may hold.
    await harness.db.query(`UPDATE accounts SET available = 9007199254740991 WHERE owner_did = $1`, [
      stuckPayee.did,
    ]);
    const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: harness.databaseUrl }) });
    try {
      const logger = createLogger({ service: 'payment-channel', level: 'silent' });
      expect(await sweepExpiredChannels({ prisma, logger, graceMs: 0 })).toBe(1);
    } finally {
      await prisma.$disconnect();
    }
    expect((await harness.call(paymentEndpoints.getChannel, { id: stuck.id }, payer)).status).toBe('open');
    expect((await harness.call(paymentEndpoints.getChannel, { id: later.id }, payer)).status).toBe('expired');
  });
});
