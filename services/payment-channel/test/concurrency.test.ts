import { randomUUID } from 'node:crypto';
import { paymentEndpoints } from '@zerostate/contracts';
import type { AppError } from '@zerostate/errors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { channelHelpers } from './channel-helpers.js';
import { credits, type Harness, scalar, startHarness, taskService, userPrincipal } from './harness.js';

describe('concurrent spending on one account', () => {
  let harness: Harness;
  const admin = userPrincipal({ admin: true });

  beforeAll(async () => {
    harness = await startHarness({ name: 'payment_concurrency', env: { DB_POOL_MAX: '30' } });
  });
  afterAll(async () => harness?.stop());

  const { openedChannel } = channelHelpers(() => harness);

  it('when 50 withdrawals and channel fundings race for one balance, then it is never overdrawn and the ledger reconciles', async () => {
    const payer = userPrincipal();
    const payee = userPrincipal();
    // 10 credits, and 50 requests of 1 credit each: at most 10 can succeed.
    await harness.call(paymentEndpoints.deposit, { amount: credits(10) }, payer);
    const attempts = Array.from({ length: 50 }, (_, index) =>
      index % 2 === 0
        ? harness.call(paymentEndpoints.withdraw, { amount: credits(1) }, payer)
        : harness.call(paymentEndpoints.openChannel, { payee_did: payee.did, amount: credits(1) }, payer),
    );
    const outcomes = await Promise.allSettled(attempts);
    const succeeded = outcomes.filter((outcome) => outcome.status === 'fulfilled').length;
    const refusals = outcomes.flatMap((outcome) =>
      outcome.status === 'rejected' ? [(outcome.reason as AppError).code] : [],
    );
    expect(succeeded).toBe(10);
    expect(new Set(refusals)).toEqual(new Set(['INSUFFICIENT_FUNDS']));

    const balance = await harness.call(paymentEndpoints.balance, {}, payer);
    expect(balance.available).toBe(0);
    const withdrawals = Number(
      await scalar(harness.db, `SELECT count(*) FROM transfers WHERE kind = 'withdrawal'`),
    );
    const fundings = Number(
      await scalar(harness.db, `SELECT count(*) FROM transfers WHERE kind = 'channel_funding'`),
    );
    expect(withdrawals + fundings).toBe(10);
    expect(balance.total_withdrawn).toBe(credits(withdrawals));
    expect(balance.in_channels).toBe(credits(fundings));

    const report = await harness.call(paymentEndpoints.reconcile, {}, admin);
    expect(report.violations).toEqual([]);
    expect(report.ok).toBe(true);
    // Σ deposits = Σ withdrawals + Σ available + Σ held + Σ channel balances, to the micro-credit.
    expect(report.totals).toEqual({
      deposited: String(credits(10)),
      withdrawn: String(credits(withdrawals)),
      available: '0',
      held: '0',
      in_channels: String(credits(fundings)),
    });
  });

  it('when payments race on one channel with the same sequence number, then exactly one is accepted', async () => {
    const { payer, channel } = await openedChannel({ balance: credits(1), deposit: credits(1) });
    const outcomes = await Promise.allSettled(
      Array.from({ length: 20 }, (_, index) =>
        harness.call(
          paymentEndpoints.payChannel,
          { id: channel.id, amount: 100 + index, sequence_number: 1 },
          payer,
        ),
      ),
    );
    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
    const codes = outcomes.flatMap((outcome) =>
      outcome.status === 'rejected' ? [(outcome.reason as AppError).code] : [],
    );
    expect(new Set(codes)).toEqual(new Set(['STALE_SEQUENCE_NUMBER']));
    expect(
      await scalar(harness.db, 'SELECT count(*) FROM channel_transactions WHERE channel_id = $1', [
        channel.id,
      ]),
    ).toBe('1');
  });

  it('when the payee closes while the payer keeps paying, then the payee gets exactly what was accepted before the close', async () => {
    const { payer, payee, channel } = await openedChannel({ balance: credits(1), deposit: credits(1) });
    const payments = Array.from({ length: 20 }, (_, index) =>
      harness.call(
        paymentEndpoints.payChannel,
        { id: channel.id, amount: 1_000 * (index + 1), sequence_number: index + 1 },
        payer,
      ),
    );
    const close = harness.call(paymentEndpoints.closeChannel, { id: channel.id }, payee);
    const [closed] = await Promise.all([close, Promise.allSettled(payments)]);
    const accepted = await scalar(
      harness.db,
      'SELECT coalesce(max(amount), 0) FROM channel_transactions WHERE channel_id = $1',
      [channel.id],
    );
    expect(closed.settled_amount).toBe(Number(accepted));
    const payeeBalance = await harness.call(paymentEndpoints.balance, {}, payee);
    const payerBalance = await harness.call(paymentEndpoints.balance, {}, payer);
    expect(payeeBalance.available).toBe(Number(accepted));
    expect(payerBalance.available + payeeBalance.available).toBe(credits(1));
    expect((await harness.call(paymentEndpoints.reconcile, {}, admin)).ok).toBe(true);
  });

  it('when two users open channels to each other and capture escrows for each other at once, then every request succeeds', async () => {
    const [first, second] = [await harness.funded(credits(100)), await harness.funded(credits(100))];
    const system = taskService();
    const opens = Array.from({ length: 20 }, (_, index) => {
      const [payer, payee] = index % 2 === 0 ? [first, second] : [second, first];
      return harness.call(paymentEndpoints.openChannel, { payee_did: payee.did, amount: credits(1) }, payer);
    });
    const tasks = Array.from({ length: 8 }, (_, index) => {
      const [payer, payee] = index % 2 === 0 ? [first, second] : [second, first];
      return { taskId: randomUUID(), payer, payee };
    });
    for (const task of tasks) {
      await harness.call(
        paymentEndpoints.holdEscrow,
        { task_id: task.taskId, payer_did: task.payer.did, amount: credits(2) },
        system,
      );
    }
    const captures = tasks.map((task) =>
      harness.call(
        paymentEndpoints.captureEscrow,
        { task_id: task.taskId, payee_did: task.payee.did, amount: credits(1) },
        system,
      ),
    );
    const outcomes = await Promise.allSettled([...opens, ...captures]);
    const failures = outcomes.flatMap((outcome) =>
      outcome.status === 'rejected' ? [(outcome.reason as AppError).code] : [],
    );
    expect(failures).toEqual([]);
    const balances = await Promise.all(
      [first, second].map((user) => harness.call(paymentEndpoints.balance, {}, user)),
    );
    // Each sent 10 channels of 1 and paid 4 captures of 1 while receiving 4: only channels moved money out.
    expect(balances.map((balance) => balance.available)).toEqual([credits(90), credits(90)]);
    expect(balances.map((balance) => balance.in_channels)).toEqual([credits(10), credits(10)]);
    await harness.expectReconciled();
  });
});
