import { paymentEndpoints } from '@zerostate/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credits, type Harness, startHarness, userPrincipal } from './harness.js';

describe('a channel from deposit to close', () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await startHarness({ name: 'payment_smoke' });
  });
  afterAll(async () => harness?.stop());

  it('when a payer deposits, opens, pays and the payee closes, then the ledger reconciles', async () => {
    const payer = userPrincipal();
    const payee = userPrincipal();
    const admin = userPrincipal({ admin: true });
    const deposited = await harness.call(paymentEndpoints.deposit, { amount: credits(10) }, payer);
    expect(deposited.balance.available).toBe(credits(10));
    const channel = await harness.call(
      paymentEndpoints.openChannel,
      { payee_did: payee.did, amount: credits(4) },
      payer,
    );
    const paid = await harness.call(
      paymentEndpoints.payChannel,
      { id: channel.id, amount: 100, sequence_number: 1 },
      payer,
    );
    expect(paid.paid).toBe(100);
    const closed = await harness.call(paymentEndpoints.closeChannel, { id: channel.id }, payee);
    expect(closed.settled_amount).toBe(100);
    const report = await harness.call(paymentEndpoints.reconcile, {}, admin);
    expect(report).toMatchObject({ ok: true });
    expect(report.totals).toMatchObject({ deposited: String(credits(10)), in_channels: '0' });
  });
});
