import { mapPrismaError, withTransientRetry } from '@zerostate/database';
import type { Prisma, PrismaClient } from '../generated/prisma/client.js';

/** The auth service's Prisma client and the client a transaction callback receives. */
export type AuthPrisma = PrismaClient;
export type Transaction = Prisma.TransactionClient;
export type JsonInput = Prisma.InputJsonValue;

/**
 * Serialises work on one named thing across every replica for the rest of the transaction.
 * `$executeRaw` because Prisma cannot read the `void` column `pg_advisory_xact_lock` returns.
 */
export async function lockForTransaction(transaction: Transaction, name: string): Promise<void> {
  await transaction.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${name}, 0))`;
}

/** True for Prisma's unique-constraint violation (P2002). */
export function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'P2002';
}

/**
 * Runs `work` as one interactive transaction, again (capped) when the database reports a
 * transient failure such as a deadlock, and maps Prisma's not-found and unique errors that no
 * repository handled to NOT_FOUND and CONFLICT. Every use passes work that is safe to repeat.
 */
export async function inTransaction<T>(
  prisma: AuthPrisma,
  work: (transaction: Transaction) => Promise<T>,
): Promise<T> {
  try {
    return await withTransientRetry(() => prisma.$transaction(work));
  } catch (error) {
    throw mapPrismaError(error);
  }
}
