import type { JsonInput, Transaction } from './prisma.js';

/** Where a request came from, as the gateway forwarded it. */
export interface RequestOrigin {
  requestId: string;
  ip?: string | undefined;
  userAgent?: string | undefined;
}

export type AuditAction =
  | 'payment.deposit'
  | 'payment.withdraw'
  | 'payment.channel.open'
  | 'payment.channel.close'
  | 'payment.escrow.hold'
  | 'payment.escrow.capture'
  | 'payment.escrow.refund'
  | 'payment.reconciliation.run'
  | 'payment.account.close';

/**
 * Audit rows are written inside the transaction of the change they record, so neither exists
 * alone. Metadata holds facts (amounts, ids), never credentials.
 */
export async function writeAudit(
  transaction: Transaction,
  origin: RequestOrigin,
  entry: {
    action: AuditAction;
    actorDid: string | null;
    targetId: string;
    metadata: Record<string, unknown>;
  },
): Promise<void> {
  await transaction.auditLog.create({
    data: {
      action: entry.action,
      actorDid: entry.actorDid,
      targetId: entry.targetId,
      ip: origin.ip?.slice(0, 64) ?? null,
      userAgent: origin.userAgent?.slice(0, 512) ?? null,
      requestId: origin.requestId.slice(0, 128),
      metadata: entry.metadata as JsonInput,
    },
  });
}
