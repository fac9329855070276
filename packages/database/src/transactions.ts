import { AppError } from '@zerostate/errors';
import { isTransientError, mapPrismaError, withTransientRetry } from './errors.js';

export type IsolationLevel = 'ReadUncommitted' | 'ReadCommitted' | 'RepeatableRead' | 'Serializable';

/** The raw-SQL part of a Prisma client or transaction client that the helpers below use. */
export interface RawSqlClient {
  $executeRaw(query: TemplateStringsArray, ...values: unknown[]): PromiseLike<number>;
  $queryRaw<T = unknown>(query: TemplateStringsArray, ...values: unknown[]): PromiseLike<T>;
}

/** The interactive-transaction part of a generated Prisma client; `Transaction` is what work gets. */
export interface TransactionalClient<Transaction> {
  $transaction<R>(
    work: (transaction: Transaction) => Promise<R>,
    options?: { maxWait?: number; timeout?: number; isolationLevel?: IsolationLevel },
  ): PromiseLike<R>;
}

export interface TransactionOptions {
  /** READ COMMITTED unless given. */
  isolationLevel?: IsolationLevel;
  /** How long the transaction may stay open (default 10 s). */
  timeoutMs?: number;
  /** Attempts in all on a transient failure (default 3, capped at 10 by `withTransientRetry`). */
  attempts?: number;
}

/** How long a transaction waits for a pooled connection before it fails (transiently). */
const connectionWaitMs = 5_000;
const transactionTimeoutDefaultMs = 10_000;

/**
 * What a caller sees when the database refused work: a deadlock, serialization failure or pool
 * timeout that outlasted the retries is a retryable 503 (nothing was committed, so the same
 * request may simply be sent again); unique and not-found errors map as `mapPrismaError` says;
 * the rest is returned unchanged (and becomes INTERNAL at the adapter).
 */
export function databaseError(error: unknown): unknown {
  if (isTransientError(error)) {
    return new AppError('SERVICE_UNAVAILABLE', 'The database is busy; retry the request.', { cause: error });
  }
  return mapPrismaError(error);
}

/**
 * Runs `work` as one interactive transaction, again (capped) when the database reports a
 * deadlock or serialization failure, and maps what no repository handled through
 * `databaseError`. Every use passes work that is safe to repeat: the whole transaction is rolled
 * back before a retry.
 */
export async function inTransaction<Transaction, T>(
  client: TransactionalClient<Transaction>,
  work: (transaction: Transaction) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  try {
    return await withTransientRetry(
      async () =>
        client.$transaction(work, {
          maxWait: connectionWaitMs,
          timeout: options.timeoutMs ?? transactionTimeoutDefaultMs,
          ...(options.isolationLevel ? { isolationLevel: options.isolationLevel } : {}),
        }),
      options.attempts === undefined ? undefined : { attempts: options.attempts },
    );
  } catch (error) {
    throw databaseError(error);
  }
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
 * True for a unique-constraint violation: Prisma's P2002, or SQLSTATE 23505 from `pg` (then, when
 * `constraint` is given, only that index's).
 */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, constraint: violated } = error as { code?: unknown; constraint?: unknown };
  if (code === 'P2002') return true;
  return code === '23505' && (constraint === undefined || violated === constraint);
}

/**
 * Serialises work on one named thing across every replica for the rest of the transaction.
 * `$executeRaw` because Prisma cannot read the `void` column `pg_advisory_xact_lock` returns.
 */
export async function lockForTransaction(transaction: RawSqlClient, name: string): Promise<void> {
  await transaction.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${name}, 0))`;
}

/**
 * Takes the transaction-scoped advisory lock on a name if nobody holds it, without waiting. The
 * lock ends with the transaction, on every replica's view at once.
 */
export async function tryLockForTransaction(transaction: RawSqlClient, name: string): Promise<boolean> {
  const rows = await transaction.$queryRaw<{ locked: boolean }[]>`
    SELECT pg_try_advisory_xact_lock(hashtextextended(${name}, 0)) AS locked`;
  return rows[0]?.locked === true;
}
