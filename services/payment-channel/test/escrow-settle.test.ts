import { randomUUID } from 'node:crypto';
import { paymentEndpoints } from '@zerostate/contracts';
import type { AppError } from '@zerostate/errors';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { escrowHelpers } from './escrow-helpers.js';
import { credits, type Harness, scalar, startHarness, userPrincipal } from './harness.js';

/** Task escrow: capture and refund, called by other services with a system principal. */
describe('escrow', () => {
  let harness: Harness;
  const _admin = userPrincipal({ admin: true });

  beforeAll(async () => {
    harness = await startHarness({ name: 'payment_escrow_settle', env: { DB_POOL_MAX: '20' } });
  });
  afterAll(async () => harness?.stop());

  // SPEC §4.2: the invariants hold after every test.
  afterEach(async () => harness.expectReconciled());

  const { system, held, transfersOf, escrowRows, balanceOf } = escrowHelpers(() => harness);

  describe('capture', () => {
    it('when a hold is captured, then the payee gets the price and the payer the rest, in two transfers', async () => {
      const { payer, taskId } = await held({ balance: credits(10), amount: credits(4) });
      const payee = userPrincipal();

      const captured = await harness.call(
        paymentEndpoints.captureEscrow,
        { task_id: taskId, payee_did: payee.did, amount: credits(3) },
        system,
      );

      expect(captured).toMatchObject({
        task_id: taskId,
        status: 'captured',
        payee_did: payee.did,
        amount: credits(4),
        captured_amount: credits(3),
        returned_amount: credits(1),
        settled_at: expect.any(String),
      });
      expect(await balanceOf(payer)).toMatchObject({ available: credits(7), held: 0 });
      expect(await balanceOf(payee)).toMatchObject({ available: credits(3), held: 0 });
      expect(await transfersOf(taskId)).toEqual([
        { kind: 'escrow_capture', amount: String(credits(3)) },
        { kind: 'escrow_hold', amount: String(credits(4)) },
        { kind: 'escrow_return', amount: String(credits(1)) },
      ]);
      const event = await harness.db.query(
        `SELECT payload FROM outbox WHERE subject = 'evt.payment.escrow.captured' AND payload->>'task_id' = $1`,
        [taskId],
      );
      expect(event.rows).toEqual([
        {
          payload: {
            task_id: taskId,
            payee_did: payee.did,
            captured_amount: credits(3),
            returned_amount: credits(1),
          },
        },
      ]);
    });

    it('when the price is the whole hold, then only the capture transfer is written', async () => {
      const { payer, taskId } = await held({ balance: credits(4), amount: credits(4) });
      const payee = userPrincipal();

      await harness.call(
        paymentEndpoints.captureEscrow,
        { task_id: taskId, payee_did: payee.did, amount: credits(4) },
        system,
      );

      expect((await transfersOf(taskId)).map((row) => row.kind)).toEqual(['escrow_capture', 'escrow_hold']);
      expect(await balanceOf(payer)).toMatchObject({ available: 0, held: 0 });
      expect(await balanceOf(payee)).toMatchObject({ available: credits(4) });
    });

    it('when the price is zero, then the whole hold returns to the payer and the payee gets nothing', async () => {
      const { payer, taskId } = await held({ balance: credits(10), amount: credits(4) });
      const payee = userPrincipal();

      const captured = await harness.call(
        paymentEndpoints.captureEscrow,
        { task_id: taskId, payee_did: payee.did, amount: 0 },
        system,
      );

      expect(captured).toMatchObject({ status: 'captured', captured_amount: 0, returned_amount: credits(4) });
      expect((await transfersOf(taskId)).map((row) => row.kind)).toEqual(['escrow_hold', 'escrow_return']);
      expect(await balanceOf(payer)).toMatchObject({ available: credits(10), held: 0 });
      expect(await balanceOf(payee)).toMatchObject({ available: 0 });
    });

    it('when the same capture is repeated, then it answers the same and captures once', async () => {
      const { taskId } = await held();
      const payee = userPrincipal();
      const input = { task_id: taskId, payee_did: payee.did, amount: credits(2) };

      const first = await harness.call(paymentEndpoints.captureEscrow, input, system);
      const second = await harness.call(paymentEndpoints.captureEscrow, input, system);

      expect(second).toEqual(first);
      expect((await transfersOf(taskId)).map((row) => row.kind)).toEqual([
        'escrow_capture',
        'escrow_hold',
        'escrow_return',
      ]);
      expect(await balanceOf(payee)).toMatchObject({ available: credits(2) });
    });

    it('when ten identical captures race, then all answer the same and one capture transfer is made', async () => {
      const { payer, taskId } = await held({ balance: credits(10), amount: credits(4) });
      const payee = userPrincipal();
      const input = { task_id: taskId, payee_did: payee.did, amount: credits(1) };

      const outcomes = await Promise.allSettled(
        Array.from({ length: 10 }, () => harness.call(paymentEndpoints.captureEscrow, input, system)),
      );

      const answers = outcomes.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []));
      const refusals = outcomes.flatMap((outcome) =>
        outcome.status === 'rejected' ? [(outcome.reason as AppError).code ?? String(outcome.reason)] : [],
      );
      expect(refusals).toEqual([]);
      expect(new Set(answers.map((answer) => JSON.stringify(answer))).size).toBe(1);
      expect(
        await scalar(
          harness.db,
          `SELECT count(*) FROM transfers WHERE kind = 'escrow_capture' AND reference_id = $1`,
          [taskId],
        ),
      ).toBe('1');
      expect(await balanceOf(payee)).toMatchObject({ available: credits(1) });
      expect(await balanceOf(payer)).toMatchObject({ available: credits(9), held: 0 });
    });

    it('when a captured escrow is captured with another price or payee, or refunded, then ESCROW_CONFLICT', async () => {
      const { taskId } = await held();
      const payee = userPrincipal();
      const captured = await harness.call(
        paymentEndpoints.captureEscrow,
        { task_id: taskId, payee_did: payee.did, amount: credits(2) },
        system,
      );
      const transfersAfterCapture = await transfersOf(taskId);

      const codes = [
        await harness.failure(
          paymentEndpoints.captureEscrow,
          { task_id: taskId, payee_did: payee.did, amount: credits(3) },
          system,
        ),
        await harness.failure(
          paymentEndpoints.captureEscrow,
          { task_id: taskId, payee_did: userPrincipal().did, amount: credits(2) },
          system,
        ),
        await harness.failure(paymentEndpoints.refundEscrow, { task_id: taskId }, system),
      ];

      expect(codes).toEqual(['ESCROW_CONFLICT', 'ESCROW_CONFLICT', 'ESCROW_CONFLICT']);
      expect(await transfersOf(taskId)).toEqual(transfersAfterCapture);
      const stored = await harness.db.query(
        'SELECT status, captured_amount FROM escrows WHERE task_id = $1',
        [taskId],
      );
      expect(stored.rows).toEqual([{ status: 'captured', captured_amount: String(credits(2)) }]);
      expect(captured.status).toBe('captured');
    });

    it('when the price exceeds the hold, then ESCROW_CONFLICT and the escrow stays held', async () => {
      const { payer, taskId } = await held({ balance: credits(10), amount: credits(4) });

      expect(
        await harness.failure(
          paymentEndpoints.captureEscrow,
          { task_id: taskId, payee_did: userPrincipal().did, amount: credits(4) + 1 },
          system,
        ),
      ).toBe('ESCROW_CONFLICT');

      expect(await scalar(harness.db, 'SELECT status FROM escrows WHERE task_id = $1', [taskId])).toBe(
        'held',
      );
      expect(await transfersOf(taskId)).toHaveLength(1);
      expect(await balanceOf(payer)).toMatchObject({ available: credits(6), held: credits(4) });
    });

    it('when the task has no escrow, then capture and refund are NOT_FOUND', async () => {
      const taskId = randomUUID();

      expect(
        await harness.failure(
          paymentEndpoints.captureEscrow,
          { task_id: taskId, payee_did: userPrincipal().did, amount: 1 },
          system,
        ),
      ).toBe('NOT_FOUND');
      expect(await harness.failure(paymentEndpoints.refundEscrow, { task_id: taskId }, system)).toBe(
        'NOT_FOUND',
      );
      expect(await escrowRows(taskId)).toBe(0);
    });
  });

  describe('refund', () => {
    it('when a hold is refunded twice, then the payer gets it back once and both answers match', async () => {
      const { payer, taskId } = await held({ balance: credits(10), amount: credits(4) });

      const first = await harness.call(paymentEndpoints.refundEscrow, { task_id: taskId }, system);
      const second = await harness.call(paymentEndpoints.refundEscrow, { task_id: taskId }, system);

      expect(first).toMatchObject({
        status: 'refunded',
        payee_did: null,
        captured_amount: null,
        returned_amount: credits(4),
        settled_at: expect.any(String),
      });
      expect(second).toEqual(first);
      expect(await transfersOf(taskId)).toEqual([
        { kind: 'escrow_hold', amount: String(credits(4)) },
        { kind: 'escrow_refund', amount: String(credits(4)) },
      ]);
      expect(await balanceOf(payer)).toMatchObject({ available: credits(10), held: 0 });
      expect(
        await scalar(
          harness.db,
          `SELECT count(*) FROM outbox WHERE subject = 'evt.payment.escrow.refunded' AND payload->>'task_id' = $1`,
          [taskId],
        ),
      ).toBe('1');
    });

    it('when a refunded escrow is captured, then ESCROW_CONFLICT and the payee gets nothing', async () => {
      const { payer, taskId } = await held({ balance: credits(10), amount: credits(4) });
      const payee = userPrincipal();
      await harness.call(paymentEndpoints.refundEscrow, { task_id: taskId }, system);

      expect(
        await harness.failure(
          paymentEndpoints.captureEscrow,
          { task_id: taskId, payee_did: payee.did, amount: credits(1) },
          system,
        ),
      ).toBe('ESCROW_CONFLICT');

      expect(await transfersOf(taskId)).toHaveLength(2);
      expect(await balanceOf(payee)).toMatchObject({ available: 0 });
      expect(await balanceOf(payer)).toMatchObject({ available: credits(10), held: 0 });
    });
  });
});
