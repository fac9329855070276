import { isTransientError, mapPrismaError, withTransientRetry } from '@zerostate/database';
import { AppError } from '@zerostate/errors';
import type { Prisma, PrismaClient } from '../generated/prisma/client.js';

/** The payment service's Prisma client and the client a transaction callback receives. */
export type PaymentPrisma = PrismaClient;
export type Transaction = Prisma.TransactionClient;
export type JsonInput = Prisma.InputJsonValue;

/** True for Prisma's unique-constraint violation (P2002). */
export function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'P2002';
}

/**
 * Runs `work` as one interactive transaction (READ COMMITTED unless asked otherwise), again
 * (capped) when the database reports a deadlock or serialization failure, and maps unique and
 * not-found errors no repository handled. Every use passes work that is safe to repeat: the
 * whole transaction is rolled back before a retry.
 */
export async function inTransaction<T>(
  prisma: PaymentPrisma,
  work: (transaction: Transaction) => Promise<T>,
  options: { isolationLevel?: Prisma.TransactionIsolationLevel; timeoutMs?: number; attempts?: number } = {},
): Promise<T> {
  try {
    return await withTransientRetry(
      () =>
        prisma.$transaction(work, {
          maxWait: 5_000,
          timeout: options.timeoutMs ?? 10_000,
          ...(options.isolationLevel ? { isolationLevel: options.isolationLevel } : {}),
        }),
      options.attempts === undefined ? undefined : { attempts: options.attempts },
    );
  } catch (error) {
    throw databaseError(error);
  }
}

/**
 * What a caller sees when the database refused work: a deadlock or timeout that outlasted the
 * retries is a retryable 503 (nothing was committed, so the same request may simply be sent
 * again); unique and not-found errors map as `mapPrismaError` says; the rest stays internal.
 */
export function databaseError(error: unknown): unknown {
  if (isTransientError(error)) {
    return new AppError('SERVICE_UNAVAILABLE', 'The payment database is busy; retry the request.', {
      cause: error,
    });
  }
  return mapPrismaError(error);
}

/** One statement (atomic by itself), run again on a transient failure like a transaction is. */
export async function inStatement<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await withTransientRetry(work);
  } catch (error) {
    throw databaseError(error);
  }
}

/**
 * Takes a transaction-scoped advisory lock on a name if nobody holds it, without waiting.
 * The lock ends with the transaction, on every replica's view at once.
 */
export async function tryLockForTransaction(transaction: Transaction, name: string): Promise<boolean> {
  const rows = await transaction.$queryRaw<{ locked: boolean }[]>`
    SELECT pg_try_advisory_xact_lock(hashtextextended(${name}, 0)) AS locked`;
  return rows[0]?.locked === true;
}

/** Waits for the transaction-scoped advisory lock on a name. */
export async function lockForTransaction(transaction: Transaction, name: string): Promise<void> {
  await transaction.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${name}, 0))`;
}
