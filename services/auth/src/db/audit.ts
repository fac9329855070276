import type { AuditAction } from '../domain/audit-actions.js';
import type { RequestOrigin } from '../domain/types.js';
import type { JsonInput, Transaction } from './prisma.js';

export interface AuditEntry {
  action: AuditAction;
  actorUserId: string | null;
  targetId?: string | null;
  /** Facts about the event; never passwords, tokens or keys. */
  metadata?: Record<string, unknown>;
}

/** Audit rows are written inside the transaction of the change they record, so neither exists alone. */
export async function writeAudit(
  transaction: Transaction,
  origin: RequestOrigin,
  entry: AuditEntry,
): Promise<void> {
  await transaction.auditLog.create({
    data: {
      action: entry.action,
      actorUserId: entry.actorUserId,
      targetId: entry.targetId ?? null,
      ip: origin.ip?.slice(0, 64) ?? null,
      userAgent: origin.userAgent?.slice(0, 512) ?? null,
      requestId: origin.requestId.slice(0, 128),
      metadata: (entry.metadata ?? {}) as JsonInput,
    },
  });
}
