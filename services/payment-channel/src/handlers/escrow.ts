import assert from 'node:assert/strict';
import { endpoint, type HandlerContext, type Registration } from '@zerostate/bus';
import { paymentEndpoints, paymentEvents, type TransferKind } from '@zerostate/contracts';
import { enqueueEvent, inTransaction } from '@zerostate/database';
import { AppError } from '@zerostate/errors';
import { writeAudit } from '../db/audit.js';
import { type EscrowRecord, insertEscrow, lockEscrow, settleEscrow } from '../db/escrows.js';
import {
  adjustAccount,
  available,
  ensureAccount,
  findAccount,
  held,
  inLockOrder,
  recordTransfer,
} from '../db/ledger.js';
import type { Transaction } from '../db/prisma.js';
import { requireEscrowCaller } from '../domain/access.js';
import { requireChange } from '../domain/balances.js';
import {
  decideEscrowCapture,
  decideEscrowHold,
  decideEscrowRefund,
  type EscrowSettlement,
} from '../domain/escrow-rules.js';
import { toJsonAmount, toMicro } from '../domain/money.js';
import { originOf, type PaymentDependencies } from './dependencies.js';
import { encodeEscrow } from './encode.js';

/**
 * escrow.hold, escrow.capture, escrow.refund: called by other services (system principals),
 * keyed by task id. Each locks the task's escrow, lets the domain decide (domain/escrow-rules.ts:
 * a repeat that already took effect replays, a contradiction is ESCROW_CONFLICT), then writes
 * what was decided.
 */
export function escrowRegistrations(dependencies: PaymentDependencies): Registration[] {
  const { prisma } = dependencies;

  /** Runs one escrow step in a transaction and counts what it committed. */
  const step = async (
    work: (transaction: Transaction) => Promise<{ escrow: EscrowRecord; transfers: TransferKind[] }>,
  ) => {
    const outcome = await inTransaction(prisma, work);
    for (const kind of outcome.transfers) dependencies.metrics.transfers.inc({ kind });
    if (outcome.transfers.length > 0) dependencies.kickOutbox();
    return encodeEscrow(outcome.escrow);
  };

  const hold = endpoint(paymentEndpoints.holdEscrow, async (input, context) => {
    const caller = requireEscrowCaller(context.principal);
    const request = { payerDid: input.payer_did, amount: toMicro(input.amount) };
    return step(async (transaction) => {
      const payer = await findAccount(transaction, input.payer_did);
      let decision = decideEscrowHold(await lockEscrow(transaction, input.task_id), payer, request);
      if (decision.outcome === 'hold') {
        const escrow = { taskId: input.task_id, payerAccountId: decision.payer.id, ...request };
        if (!(await insertEscrow(transaction, escrow))) {
          // A concurrent hold of this task committed first: decide again on the escrow it made.
          decision = decideEscrowHold(await lockEscrow(transaction, input.task_id), payer, request);
          assert(decision.outcome === 'replay', 'a hold that lost the race finds the escrow that won');
        }
      }
      if (decision.outcome === 'replay') return { escrow: decision.escrow, transfers: [] };
      const moved = await adjustAccount(transaction, decision.payer.id, decision.hold.change);
      // The UPDATE's guard refused: a concurrent request spent the balance since it was read.
      if (!moved) throw new AppError(decision.hold.refusal);
      await recordTransfer(transaction, {
        kind: 'escrow_hold',
        amount: request.amount,
        from: available(decision.payer.id),
        to: held(decision.payer.id),
        referenceId: input.task_id,
        requestId: context.requestId,
      });
      await audit(transaction, context, caller.did, 'payment.escrow.hold', input.task_id, {
        amount: input.amount,
      });
      await enqueueEvent(transaction, paymentEvents.escrowHeld, {
        task_id: input.task_id,
        payer_did: input.payer_did,
        amount: input.amount,
      });
      const escrow = await lockEscrow(transaction, input.task_id);
      return { escrow: escrow!, transfers: ['escrow_hold'] };
    });
  });

  const capture = endpoint(paymentEndpoints.captureEscrow, async (input, context) => {
    const caller = requireEscrowCaller(context.principal);
    const request = { payeeDid: input.payee_did, price: toMicro(input.amount) };
    return step(async (transaction) => {
      const decision = decideEscrowCapture(await lockEscrow(transaction, input.task_id), request);
      if (decision.outcome === 'replay') return { escrow: decision.escrow, transfers: [] };
      const { escrow, settlement } = decision;
      // Every account is resolved before any is changed (see `settle`).
      const payee =
        settlement.payeeCredit &&
        requireChange(await ensureAccount(transaction, input.payee_did), settlement.payeeCredit);
      const outcome = await settle(transaction, context, escrow, settlement, payee?.id);
      const returned = toJsonAmount(settlement.returnedAmount);
      await audit(transaction, context, caller.did, 'payment.escrow.capture', escrow.taskId, {
        payee_did: input.payee_did,
        captured: input.amount,
        returned,
      });
      await enqueueEvent(transaction, paymentEvents.escrowCaptured, {
        task_id: escrow.taskId,
        payee_did: input.payee_did,
        captured_amount: input.amount,
        returned_amount: returned,
      });
      return outcome;
    });
  });

  const refund = endpoint(paymentEndpoints.refundEscrow, async (input, context) => {
    const caller = requireEscrowCaller(context.principal);
    return step(async (transaction) => {
      const decision = decideEscrowRefund(await lockEscrow(transaction, input.task_id));
      if (decision.outcome === 'replay') return { escrow: decision.escrow, transfers: [] };
      const { escrow, settlement } = decision;
      const outcome = await settle(transaction, context, escrow, settlement, undefined);
      await audit(transaction, context, caller.did, 'payment.escrow.refund', escrow.taskId, {
        amount: toJsonAmount(escrow.amount),
      });
      await enqueueEvent(transaction, paymentEvents.escrowRefunded, {
        task_id: escrow.taskId,
        amount: toJsonAmount(escrow.amount),
      });
      return outcome;
    });
  });

  return [hold, capture, refund];
}

/**
 * Writes a settlement the domain decided for a locked, held escrow: the balance changes (in
 * account-id order, so two captures paying each other's payers cannot deadlock), one transfer per
 * amount that moves, and the escrow's new state.
 */
async function settle(
  transaction: Transaction,
  context: HandlerContext,
  escrow: EscrowRecord,
  settlement: EscrowSettlement,
  payeeAccountId: string | undefined,
): Promise<{ escrow: EscrowRecord; transfers: TransferKind[] }> {
  const payer = escrow.payerAccountId;
  const changes = inLockOrder([
    { accountId: payer, change: settlement.payerChange, refusal: undefined },
    ...(payeeAccountId && settlement.payeeCredit
      ? [{ accountId: payeeAccountId, ...settlement.payeeCredit }]
      : []),
  ]);
  for (const { accountId, change, refusal } of changes) {
    if (await adjustAccount(transaction, accountId, change)) continue;
    // The hold is in the payer's held balance by construction; a refusal there is a broken invariant.
    if (!refusal) throw new Error(`escrow ${escrow.taskId} holds more than its payer's held balance`);
    // The UPDATE's guard refused the credit: the payee's balance rose since it was read.
    throw new AppError(refusal);
  }
  for (const transfer of settlement.transfers) {
    const to = transfer.to === 'payee' ? payeeAccountId : payer;
    assert(to, 'a transfer to the payee comes with a payee account');
    await recordTransfer(transaction, {
      kind: transfer.kind,
      amount: transfer.amount,
      from: held(payer),
      to: available(to),
      referenceId: escrow.taskId,
      requestId: context.requestId,
    });
  }
  const settled = await settleEscrow(transaction, { taskId: escrow.taskId, ...settlement, at: new Date() });
  return { escrow: settled, transfers: settlement.transfers.map((transfer) => transfer.kind) };
}

function audit(
  transaction: Transaction,
  context: HandlerContext,
  actorDid: string,
  action: 'payment.escrow.hold' | 'payment.escrow.capture' | 'payment.escrow.refund',
  taskId: string,
  metadata: Record<string, unknown>,
): Promise<void> {
  return writeAudit(transaction, originOf(context), { action, actorDid, targetId: taskId, metadata });
}
