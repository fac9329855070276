import { randomUUID } from 'node:crypto';
import { type Principal, paymentEndpoints } from '@zerostate/contracts';
import type { AppError } from '@zerostate/errors';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { escrowHelpers } from './escrow-helpers.js';
import { credits, type Harness, scalar, startHarness, userPrincipal } from './harness.js';

/** Task escrow: who may call, and holding, called by other services with a system principal. */
describe('escrow', () => {
  let harness: Harness;
  const admin = userPrincipal({ admin: true });

  beforeAll(async () => {
    harness = await startHarness({ name: 'payment_escrow_hold', env: { DB_POOL_MAX: '20' } });
  });
  afterAll(async () => harness?.stop());

  // SPEC §4.2: the invariants hold after every test.
  afterEach(async () => harness.expectReconciled());

  const { system, funded, held, transfersOf, escrowRows, balanceOf } = escrowHelpers(() => harness);

  describe('who may call', () => {
    it('when a user, an admin API key or nobody calls an escrow endpoint, then FORBIDDEN or UNAUTHENTICATED and nothing moves', async () => {
      const payer = await funded(credits(5));
      const payee = userPrincipal();
      const taskId = randomUUID();
      const calls = [
        (principal?: Principal) =>
          harness.failure(
            paymentEndpoints.holdEscrow,
            { task_id: taskId, payer_did: payer.did, amount: credits(1) },
            principal,
          ),
        (principal?: Principal) =>
          harness.failure(
            paymentEndpoints.captureEscrow,
            { task_id: taskId, payee_did: payee.did, amount: 1 },
            principal,
          ),
        (principal?: Principal) =>
          harness.failure(paymentEndpoints.refundEscrow, { task_id: taskId }, principal),
      ];

      for (const call of calls) {
        expect(await call(payer)).toBe('FORBIDDEN');
        expect(
          await call({ ...admin, kind: 'api_key', scopes: ['payments:write'], api_key_id: randomUUID() }),
        ).toBe('FORBIDDEN');
        expect(await call()).toBe('UNAUTHENTICATED');
      }
      // An admin session passes the access check (operators may settle a stuck task by hand):
      // there is no escrow for this task yet, so the refund finds nothing.
      expect(await calls[2]!(admin)).toBe('NOT_FOUND');

      expect(await escrowRows(taskId)).toBe(0);
      expect(await transfersOf(taskId)).toEqual([]);
      expect(await balanceOf(payer)).toMatchObject({ available: credits(5), held: 0 });
    });
  });

  describe('hold', () => {
    it('when a hold is placed, then the amount moves from available to held through one transfer', async () => {
      const { payer, taskId, escrow } = await held({ balance: credits(10), amount: credits(4) });

      expect(escrow).toMatchObject({
        task_id: taskId,
        payer_did: payer.did,
        amount: credits(4),
        status: 'held',
        payee_did: null,
        captured_amount: null,
        returned_amount: null,
        settled_at: null,
      });
      expect(await balanceOf(payer)).toMatchObject({ available: credits(6), held: credits(4) });
      expect(await transfersOf(taskId)).toEqual([{ kind: 'escrow_hold', amount: String(credits(4)) }]);
      const entries = await harness.db.query(
        `SELECT e.book, a.owner_did, e.amount FROM ledger_entries e JOIN transfers t ON t.id = e.transfer_id
         JOIN accounts a ON a.id = e.account_id WHERE t.reference_id = $1 ORDER BY e.amount`,
        [taskId],
      );
      expect(entries.rows).toEqual([
        { book: 'available', owner_did: payer.did, amount: String(-credits(4)) },
        { book: 'held', owner_did: payer.did, amount: String(credits(4)) },
      ]);
      const history = await harness.call(paymentEndpoints.history, { limit: 2 }, payer);
      expect(
        history.items.map((item) => [item.kind, item.book, item.amount, item.reference_id]).sort(),
      ).toEqual([
        ['escrow_hold', 'available', -credits(4), taskId],
        ['escrow_hold', 'held', credits(4), taskId],
      ]);
      expect(
        await scalar(harness.db, 'SELECT actor_did FROM audit_log WHERE action = $1 AND target_id = $2', [
          'payment.escrow.hold',
          taskId,
        ]),
      ).toBe(system.did);
      const event = await harness.db.query(
        `SELECT subject, payload FROM outbox WHERE payload->>'task_id' = $1`,
        [taskId],
      );
      expect(event.rows).toEqual([
        {
          subject: 'evt.payment.escrow.held',
          payload: { task_id: taskId, payer_did: payer.did, amount: credits(4) },
        },
      ]);
    });

    it('when the same hold is repeated, then the same escrow comes back and nothing moves again', async () => {
      const { payer, taskId, escrow } = await held({ balance: credits(10), amount: credits(4) });

      const again = await harness.call(
        paymentEndpoints.holdEscrow,
        { task_id: taskId, payer_did: payer.did, amount: credits(4) },
        system,
      );

      expect(again).toEqual(escrow);
      expect(await transfersOf(taskId)).toHaveLength(1);
      expect(await balanceOf(payer)).toMatchObject({ available: credits(6), held: credits(4) });
    });

    it('when ten identical holds race for one task, then one escrow and one hold transfer are made', async () => {
      const payer = await funded(credits(10));
      const taskId = randomUUID();
      const input = { task_id: taskId, payer_did: payer.did, amount: credits(3) };

      const outcomes = await Promise.allSettled(
        Array.from({ length: 10 }, () => harness.call(paymentEndpoints.holdEscrow, input, system)),
      );

      const refusals = outcomes.flatMap((outcome) =>
        outcome.status === 'rejected' ? [(outcome.reason as AppError).code ?? String(outcome.reason)] : [],
      );
      expect(refusals).toEqual([]);
      expect(await escrowRows(taskId)).toBe(1);
      expect(await transfersOf(taskId)).toEqual([{ kind: 'escrow_hold', amount: String(credits(3)) }]);
      expect(await balanceOf(payer)).toMatchObject({ available: credits(7), held: credits(3) });
    });

    it('when a hold for the task comes with other terms, then ESCROW_CONFLICT and nothing moves', async () => {
      const { payer, taskId } = await held({ balance: credits(10), amount: credits(4) });
      const otherPayer = await funded(credits(10));

      const otherAmount = await harness.failure(
        paymentEndpoints.holdEscrow,
        { task_id: taskId, payer_did: payer.did, amount: credits(5) },
        system,
      );
      const otherPayerCode = await harness.failure(
        paymentEndpoints.holdEscrow,
        { task_id: taskId, payer_did: otherPayer.did, amount: credits(4) },
        system,
      );

      expect([otherAmount, otherPayerCode]).toEqual(['ESCROW_CONFLICT', 'ESCROW_CONFLICT']);
      expect(await transfersOf(taskId)).toHaveLength(1);
      expect(await balanceOf(payer)).toMatchObject({ available: credits(6), held: credits(4) });
      expect(await balanceOf(otherPayer)).toMatchObject({ available: credits(10), held: 0 });
    });

    it('when the payer lacks the funds or an account, then INSUFFICIENT_FUNDS and no escrow is made', async () => {
      const payer = await funded(credits(2));
      const nobody = userPrincipal();
      const shortTask = randomUUID();
      const nobodyTask = randomUUID();

      const short = await harness.failure(
        paymentEndpoints.holdEscrow,
        { task_id: shortTask, payer_did: payer.did, amount: credits(2) + 1 },
        system,
      );
      const noAccount = await harness.failure(
        paymentEndpoints.holdEscrow,
        { task_id: nobodyTask, payer_did: nobody.did, amount: 1 },
        system,
      );

      expect([short, noAccount]).toEqual(['INSUFFICIENT_FUNDS', 'INSUFFICIENT_FUNDS']);
      expect((await escrowRows(shortTask)) + (await escrowRows(nobodyTask))).toBe(0);
      expect([...(await transfersOf(shortTask)), ...(await transfersOf(nobodyTask))]).toEqual([]);
      expect(await balanceOf(payer)).toMatchObject({ available: credits(2), held: 0 });
    });
  });
});
