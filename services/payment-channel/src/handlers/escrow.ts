import { endpoint, type HandlerContext, type Registration } from '@zerostate/bus';
import { paymentEndpoints, paymentEvents, type TransferKind } from '@zerostate/contracts';
import { enqueueEvent, inTransaction } from '@zerostate/database';
import { AppError } from '@zerostate/errors';
import { writeAudit } from '../db/audit.js';
import { type EscrowRecord, insertEscrow, lockEscrow, settleEscrow } from '../db/escrows.js';
import { adjustAccount, available, ensureAccount, findAccount, held, recordTransfer } from '../db/ledger.js';
import type { Transaction } from '../db/prisma.js';
import { requireSystem } from '../domain/access.js';
import { toJsonAmount, toMicro } from '../domain/money.js';
import { originOf, type PaymentDependencies } from './dependencies.js';
import { encodeEscrow } from './encode.js';

/**
 * escrow.hold, escrow.capture, escrow.refund: called by other services (system principals),
 * keyed by task id. Each is idempotent: repeating a call that already took effect answers with
 * the escrow as it is; a call that contradicts what happened is ESCROW_CONFLICT.
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
    const caller = requireSystem(context.principal);
    const amount = toMicro(input.amount);
    return step(async (transaction) => {
      const payer = await findAccount(transaction, input.payer_did);
      if (!payer) throw new AppError('INSUFFICIENT_FUNDS');
      const created = await insertEscrow(transaction, {
        taskId: input.task_id,
        payerAccountId: payer.id,
        payerDid: input.payer_did,
        amount,
      });
      if (!created) {
        const existing = await lockEscrow(transaction, input.task_id);
        if (!existing || existing.payerDid !== input.payer_did || existing.amount !== amount) {
          throw new AppError('ESCROW_CONFLICT', 'This task already holds an escrow with other terms.');
        }
        return { escrow: existing, transfers: [] };
      }
      const moved = await adjustAccount(transaction, payer.id, { available: -amount, held: amount });
      if (!moved) throw new AppError('INSUFFICIENT_FUNDS');
      await recordTransfer(transaction, {
        kind: 'escrow_hold',
        amount,
        from: available(payer.id),
        to: held(payer.id),
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
    const caller = requireSystem(context.principal);
    const price = toMicro(input.amount);
    return step(async (transaction) => {
      const escrow = await lockEscrow(transaction, input.task_id);
      if (!escrow) throw new AppError('NOT_FOUND');
      if (
        escrow.status === 'captured' &&
        escrow.payeeDid === input.payee_did &&
        escrow.capturedAmount === price
      ) {
        return { escrow, transfers: [] };
      }
      if (escrow.status !== 'held')
        throw new AppError('ESCROW_CONFLICT', `The escrow is already ${escrow.status}.`);
      if (price > escrow.amount) throw new AppError('ESCROW_CONFLICT', 'The price exceeds the amount held.');
      const rest = escrow.amount - price;
      // Every account is resolved before any is changed, and changes go in account-id order, so
      // two captures paying each other's payers cannot deadlock.
      const payeeAccountId = price > 0n ? await ensureAccount(transaction, input.payee_did) : undefined;
      const changes = [
        { accountId: escrow.payerAccountId, change: { held: -escrow.amount, available: rest }, payer: true },
        ...(payeeAccountId
          ? [{ accountId: payeeAccountId, change: { available: price }, payer: false }]
          : []),
      ].sort((left, right) =>
        left.accountId < right.accountId ? -1 : left.accountId > right.accountId ? 1 : 0,
      );
      for (const { accountId, change, payer } of changes) {
        const changed = await adjustAccount(transaction, accountId, change);
        if (!changed && payer)
          throw new Error(`escrow ${escrow.taskId} holds more than its payer's held balance`);
        if (!changed) throw new AppError('ACCOUNT_LIMIT_EXCEEDED');
      }
      const transfers: TransferKind[] = [];
      if (payeeAccountId) {
        await recordTransfer(transaction, {
          kind: 'escrow_capture',
          amount: price,
          from: held(escrow.payerAccountId),
          to: available(payeeAccountId),
          referenceId: escrow.taskId,
          requestId: context.requestId,
        });
        transfers.push('escrow_capture');
      }
      if (rest > 0n) {
        await recordTransfer(transaction, {
          kind: 'escrow_return',
          amount: rest,
          from: held(escrow.payerAccountId),
          to: available(escrow.payerAccountId),
          referenceId: escrow.taskId,
          requestId: context.requestId,
        });
        transfers.push('escrow_return');
      }
      const settled = await settleEscrow(transaction, {
        taskId: escrow.taskId,
        status: 'captured',
        payeeDid: input.payee_did,
        capturedAmount: price,
        returnedAmount: rest,
        at: new Date(),
      });
      await audit(transaction, context, caller.did, 'payment.escrow.capture', escrow.taskId, {
        payee_did: input.payee_did,
        captured: input.amount,
        returned: toJsonAmount(rest),
      });
      await enqueueEvent(transaction, paymentEvents.escrowCaptured, {
        task_id: escrow.taskId,
        payee_did: input.payee_did,
        captured_amount: input.amount,
        returned_amount: toJsonAmount(rest),
      });
      return { escrow: settled, transfers };
    });
  });

  const refund = endpoint(paymentEndpoints.refundEscrow, async (input, context) => {
    const caller = requireSystem(context.principal);
    return step(async (transaction) => {
      const escrow = await lockEscrow(transaction, input.task_id);
      if (!escrow) throw new AppError('NOT_FOUND');
      if (escrow.status === 'refunded') return { escrow, transfers: [] };
      if (escrow.status !== 'held') throw new AppError('ESCROW_CONFLICT', 'The escrow was already captured.');
      const released = await adjustAccount(transaction, escrow.payerAccountId, {
        held: -escrow.amount,
        available: escrow.amount,
      });
      if (!released) throw new Error(`escrow ${escrow.taskId} holds more than its payer's held balance`);
      await recordTransfer(transaction, {
        kind: 'escrow_refund',
        amount: escrow.amount,
        from: held(escrow.payerAccountId),
        to: available(escrow.payerAccountId),
        referenceId: escrow.taskId,
        requestId: context.requestId,
      });
      const settled = await settleEscrow(transaction, {
        taskId: escrow.taskId,
        status: 'refunded',
        payeeDid: null,
        capturedAmount: null,
        returnedAmount: escrow.amount,
        at: new Date(),
      });
      await audit(transaction, context, caller.did, 'payment.escrow.refund', escrow.taskId, {
        amount: toJsonAmount(escrow.amount),
      });
      await enqueueEvent(transaction, paymentEvents.escrowRefunded, {
        task_id: escrow.taskId,
        amount: toJsonAmount(escrow.amount),
      });
      return { escrow: settled, transfers: ['escrow_refund'] };
    });
  });

  return [hold, capture, refund];
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
