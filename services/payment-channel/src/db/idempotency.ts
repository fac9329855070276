import { inTransaction, isUniqueViolation, tryLockForTransaction } from '@zerostate/database';
import { AppError } from '@zerostate/errors';
import type { JsonInput, PaymentPrisma, Transaction } from './prisma.js';

export interface IdempotentRequest {
  /** Whose key it is: keys of different callers never meet. */
  scope: string;
  key: string;
  endpoint: string;
  fingerprint: string;
}

/**
 * Runs `work` exactly once per (caller, Idempotency-Key), in one transaction with the record of
 * its outcome, so an effect and its record commit together or not at all.
 *
 * - A later request with the same key and fingerprint gets the stored response, with no effect.
 * - The same key with another endpoint or input is IDEMPOTENCY_KEY_REUSED.
 * - While the first request's transaction is open, a duplicate cannot take the key's advisory
 *   lock and gets IDEMPOTENCY_REQUEST_IN_PROGRESS at once instead of queueing on a connection.
 *   The lock is released only after the commit is visible, so whoever takes it next sees the
 *   record. The primary key on (scope, key) backs this up.
 * - A request that fails stores nothing (its effect was rolled back too), so a retry runs anew.
 */
export async function runIdempotently<T>(
  prisma: PaymentPrisma,
  request: IdempotentRequest,
  work: (transaction: Transaction) => Promise<T>,
): Promise<{ response: T; replayed: boolean }> {
  // A finished request is answered from its record without a lock or transaction, so replays
  // never queue behind each other or report "in progress".
  const finished = await findRecord(prisma, request);
  if (finished) return { response: finished as T, replayed: true };
  return inTransaction(prisma, async (transaction) => {
    const locked = await tryLockForTransaction(transaction, `idempotency\n${request.scope}\n${request.key}`);
    if (!locked) throw new AppError('IDEMPOTENCY_REQUEST_IN_PROGRESS');
    const stored = await findRecord(transaction, request);
    if (stored) return { response: stored as T, replayed: true };
    const response = await work(transaction);
    await transaction.idempotencyRecord
      .create({
        data: {
          scope: request.scope,
          key: request.key,
          endpoint: request.endpoint,
          fingerprint: request.fingerprint,
          response: response as JsonInput,
        },
      })
      .catch((error: unknown) => {
        // Only if the advisory lock were bypassed; the whole transaction rolls back either way.
        if (isUniqueViolation(error))
          throw new AppError('IDEMPOTENCY_REQUEST_IN_PROGRESS', undefined, { cause: error });
        throw error;
      });
    return { response, replayed: false };
  });
}

/** The stored response for this key, IDEMPOTENCY_KEY_REUSED if it was for another request. */
async function findRecord(db: PaymentPrisma | Transaction, request: IdempotentRequest): Promise<unknown> {
  const stored = await db.idempotencyRecord.findUnique({
    where: { scope_key: { scope: request.scope, key: request.key } },
    select: { endpoint: true, fingerprint: true, response: true },
  });
  if (!stored) return undefined;
  if (stored.endpoint !== request.endpoint || stored.fingerprint !== request.fingerprint) {
    throw new AppError('IDEMPOTENCY_KEY_REUSED');
  }
  return stored.response;
}

/** Deletes up to `batchSize` records older than the retention; returns how many went. */
export async function pruneIdempotencyRecords(
  prisma: PaymentPrisma,
  options: { olderThanHours: number; batchSize: number },
): Promise<number> {
  return prisma.$executeRaw`
    DELETE FROM idempotency_records WHERE (scope, key) IN (
      SELECT scope, key FROM idempotency_records
      WHERE created_at < now() - ${options.olderThanHours}::int * interval '1 hour'
      LIMIT ${options.batchSize}::int FOR UPDATE SKIP LOCKED)`;
}
