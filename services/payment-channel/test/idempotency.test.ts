import { randomUUID } from 'node:crypto';
import { paymentEndpoints } from '@zerostate/contracts';
import type { AppError } from '@zerostate/errors';
import { metricTotal } from '@zerostate/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credits, type Harness, scalar, startHarness, userPrincipal } from './harness.js';

describe('Idempotency-Key', () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await startHarness({ name: 'payment_idempotency', env: { DB_POOL_MAX: '30' } });
  });
  afterAll(async () => harness?.stop());

  const depositsOf = (did: string) =>
    scalar(
      harness.db,
      `SELECT count(*) FROM transfers t JOIN ledger_entries e ON e.transfer_id = t.id
       JOIN accounts a ON a.id = e.account_id
       WHERE t.kind = 'deposit' AND e.book = 'available' AND a.owner_did = $1`,
      [did],
    ).then(Number);

  it('when 100 identical deposits race with one key, then exactly one transfer is made and every answer is the replay or in-progress', async () => {
    const user = userPrincipal();
    const key = randomUUID();
    const outcomes = await Promise.allSettled(
      Array.from({ length: 100 }, () =>
        harness.call(paymentEndpoints.deposit, { amount: credits(5) }, user, { idempotencyKey: key }),
      ),
    );
    expect(await depositsOf(user.did)).toBe(1);
    const successes = outcomes.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []));
    const refusals = outcomes.flatMap((outcome) =>
      outcome.status === 'rejected' ? [(outcome.reason as AppError).code] : [],
    );
    expect(successes.length).toBeGreaterThanOrEqual(1);
    for (const success of successes) expect(success).toEqual(successes[0]);
    expect(new Set(refusals).size <= 1).toBe(true);
    if (refusals.length > 0) expect(refusals[0]).toBe('IDEMPOTENCY_REQUEST_IN_PROGRESS');
    // After the race, a retry replays the first answer.
    const replay = await harness.call(paymentEndpoints.deposit, { amount: credits(5) }, user, {
      idempotencyKey: key,
    });
    expect(replay).toEqual(successes[0]);
    expect((await harness.call(paymentEndpoints.balance, {}, user)).available).toBe(credits(5));
  });

  it('when a withdrawal is replayed after the balance changed, then the stored answer comes back and nothing moves again', async () => {
    const user = userPrincipal();
    await harness.call(paymentEndpoints.deposit, { amount: credits(10) }, user);
    const key = randomUUID();
    const first = await harness.call(paymentEndpoints.withdraw, { amount: credits(3) }, user, {
      idempotencyKey: key,
    });
    await harness.call(paymentEndpoints.deposit, { amount: credits(1) }, user);
    const again = await harness.call(paymentEndpoints.withdraw, { amount: credits(3) }, user, {
      idempotencyKey: key,
    });
    expect(again).toEqual(first);
    const balance = await harness.call(paymentEndpoints.balance, {}, user);
    expect(balance).toMatchObject({ available: credits(8), total_withdrawn: credits(3) });
  });

  it('when the same key comes with another body or another endpoint, then IDEMPOTENCY_KEY_REUSED and nothing moves', async () => {
    const user = userPrincipal();
    const key = randomUUID();
    await harness.call(paymentEndpoints.deposit, { amount: credits(2) }, user, { idempotencyKey: key });
    expect(
      await harness.failure(paymentEndpoints.deposit, { amount: credits(3) }, user, { idempotencyKey: key }),
    ).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(
      await harness.failure(paymentEndpoints.withdraw, { amount: credits(2) }, user, { idempotencyKey: key }),
    ).toBe('IDEMPOTENCY_KEY_REUSED');
    const balance = await harness.call(paymentEndpoints.balance, {}, user);
    expect(balance).toMatchObject({ available: credits(2), total_withdrawn: 0 });
  });

  it('when two users use the same key, then each gets their own effect', async () => {
    const [first, second] = [userPrincipal(), userPrincipal()];
    const key = 'shared-key-1';
    const one = await harness.call(paymentEndpoints.deposit, { amount: 7 }, first, { idempotencyKey: key });
    const two = await harness.call(paymentEndpoints.deposit, { amount: 7 }, second, { idempotencyKey: key });
    expect(two.transfer_id).not.toBe(one.transfer_id);
    expect(two.balance.owner_did).toBe(second.did);
  });

  it('when a keyed request fails, then nothing is stored and a retry with the same key runs anew', async () => {
    const user = userPrincipal();
    const key = randomUUID();
    expect(
      await harness.failure(paymentEndpoints.withdraw, { amount: credits(1) }, user, { idempotencyKey: key }),
    ).toBe('INSUFFICIENT_FUNDS');
    expect(await scalar(harness.db, 'SELECT count(*) FROM idempotency_records WHERE key = $1', [key])).toBe(
      '0',
    );
    await harness.call(paymentEndpoints.deposit, { amount: credits(1) }, user);
    const retried = await harness.call(paymentEndpoints.withdraw, { amount: credits(1) }, user, {
      idempotencyKey: key,
    });
    expect(retried.balance.available).toBe(0);
  });

  it('when a channel payment is replayed with its key, then the channel answer is the same and one payment is recorded', async () => {
    const payer = userPrincipal();
    const payee = userPrincipal();
    await harness.call(paymentEndpoints.deposit, { amount: credits(1) }, payer);
    const channelKey = randomUUID();
    const channel = await harness.call(
      paymentEndpoints.openChannel,
      { payee_did: payee.did, amount: 1_000 },
      payer,
      {
        idempotencyKey: channelKey,
      },
    );
    const reopened = await harness.call(
      paymentEndpoints.openChannel,
      { payee_did: payee.did, amount: 1_000 },
      payer,
      {
        idempotencyKey: channelKey,
      },
    );
    expect(reopened).toEqual(channel);
    const payKey = randomUUID();
    const paid = await harness.call(
      paymentEndpoints.payChannel,
      { id: channel.id, amount: 10, sequence_number: 1 },
      payer,
      {
        idempotencyKey: payKey,
      },
    );
    const replayed = await harness.call(
      paymentEndpoints.payChannel,
      { sequence_number: 1, amount: 10, id: channel.id },
      payer,
      { idempotencyKey: payKey },
    );
    expect(replayed).toEqual(paid);
    expect(
      await scalar(harness.db, 'SELECT count(*) FROM payment_channels WHERE payer_did = $1', [payer.did]),
    ).toBe('1');
    expect(
      await scalar(harness.db, 'SELECT count(*) FROM channel_transactions WHERE channel_id = $1', [
        channel.id,
      ]),
    ).toBe('1');
  });

  it('when a finished request is replayed many times at once, then every replay gets the stored answer', async () => {
    const user = userPrincipal();
    const key = randomUUID();
    const first = await harness.call(paymentEndpoints.deposit, { amount: 9 }, user, { idempotencyKey: key });
    const replays = await Promise.all(
      Array.from({ length: 30 }, () =>
        harness.call(paymentEndpoints.deposit, { amount: 9 }, user, { idempotencyKey: key }),
      ),
    );
    for (const replay of replays) expect(replay).toEqual(first);
  });

  it('when a caller other than the gateway sends a malformed key, then VALIDATION_FAILED and nothing moves', async () => {
    const user = userPrincipal();
    expect(
      await harness.failure(paymentEndpoints.deposit, { amount: 5 }, user, { idempotencyKey: 'has a space' }),
    ).toBe('VALIDATION_FAILED');
    expect((await harness.call(paymentEndpoints.balance, {}, user)).available).toBe(0);
  });

  it('when a channel payment is replayed, then it is counted once', async () => {
    const payer = await harness.funded(credits(1));
    const channel = await harness.call(
      paymentEndpoints.openChannel,
      { payee_did: userPrincipal().did, amount: 100 },
      payer,
    );
    const counted = async () =>
      metricTotal(await harness.registry.metrics(), 'payment_channel_payments_total');
    const before = await counted();
    const key = randomUUID();
    for (let attempt = 0; attempt < 3; attempt += 1) {
      await harness.call(
        paymentEndpoints.payChannel,
        { id: channel.id, amount: 5, sequence_number: 1 },
        payer,
        {
          idempotencyKey: key,
        },
      );
    }
    expect((await counted()) - before).toBe(1);
  });
});
