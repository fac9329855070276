import type { EscrowSettlement, EscrowState, EscrowStatus } from '../domain/escrow-rules.js';
import type { PaymentPrisma, Transaction } from './prisma.js';

export interface EscrowRecord extends EscrowState {
  payerAccountId: string;
  createdAt: Date;
  settledAt: Date | null;
}

const escrowColumns = {
  taskId: true,
  payerAccountId: true,
  payerDid: true,
  amount: true,
  status: true,
  payeeDid: true,
  capturedAmount: true,
  returnedAmount: true,
  createdAt: true,
  settledAt: true,
} as const;

type Reader = PaymentPrisma | Transaction;

export async function findEscrow(db: Reader, taskId: string): Promise<EscrowRecord | null> {
  const row = await db.escrow.findUnique({ where: { taskId }, select: escrowColumns });
  return row && { ...row, status: row.status as EscrowStatus };
}

/** Reads a task's escrow and locks it, so capture and refund of one task run one at a time. */
export async function lockEscrow(transaction: Transaction, taskId: string): Promise<EscrowRecord | null> {
  const locked = await transaction.$queryRaw<{ task_id: string }[]>`
    SELECT task_id FROM escrows WHERE task_id = ${taskId}::uuid FOR UPDATE`;
  return locked.length === 0 ? null : findEscrow(transaction, taskId);
}

/**
 * Creates the task's escrow unless one exists; answers whether it did. The caller decided the
 * hold on the escrow it read (`decideEscrowHold`); ON CONFLICT only guards the race of two holds
 * for one task, which serialise on the primary key: the second waits for the first to commit and
 * then gets false, and decides again on the escrow it now sees.
 */
export async function insertEscrow(
  transaction: Transaction,
  escrow: { taskId: string; payerAccountId: string; payerDid: string; amount: bigint },
): Promise<boolean> {
  const inserted = await transaction.$executeRaw`
    INSERT INTO escrows (task_id, payer_account_id, payer_did, amount, status)
    VALUES (${escrow.taskId}::uuid, ${escrow.payerAccountId}::uuid, ${escrow.payerDid}, ${escrow.amount}, 'held')
    ON CONFLICT (task_id) DO NOTHING`;
  return inserted === 1;
}

export async function settleEscrow(
  transaction: Transaction,
  settlement: Pick<EscrowSettlement, 'status' | 'payeeDid' | 'capturedAmount' | 'returnedAmount'> & {
    taskId: string;
    at: Date;
  },
): Promise<EscrowRecord> {
  const row = await transaction.escrow.update({
    where: { taskId: settlement.taskId },
    data: {
      status: settlement.status,
      payeeDid: settlement.payeeDid,
      capturedAmount: settlement.capturedAmount,
      returnedAmount: settlement.returnedAmount,
      settledAt: settlement.at,
    },
    select: escrowColumns,
  });
  return { ...row, status: row.status as EscrowStatus };
}
