import { setTimeout as sleep } from 'node:timers/promises';
import { AppError } from '@zerostate/errors';

/**
 * Error codes worth retrying unchanged: Prisma's pool timeout (P2024), interactive transaction
 * expired (P2028) and write conflict or deadlock (P2034), and the Postgres SQLSTATEs for
 * serialization failure (40001) and deadlock (40P01) as raised by pg or wrapped by a driver adapter.
 */
const transientCodes = new Set(['P2024', 'P2028', 'P2034', '40001', '40P01']);

const defaultAttempts = 3;
/** No caller may ask for more than this; a retry storm hurts a struggling database more. */
const attemptsCap = 10;
const baseDelayMs = 20;
const maxDelayMs = 500;

type Indexable = Record<string, unknown>;

function asRecord(value: unknown): Indexable | undefined {
  return typeof value === 'object' && value !== null ? (value as Indexable) : undefined;
}

/** The Prisma error code (`P2002`, ...) of a Prisma known-request error, read structurally. */
function prismaCodeOf(error: unknown): string | undefined {
  const record = asRecord(error);
  const code = record?.code;
  return typeof code === 'string' && /^P\d{4}$/.test(code) ? code : undefined;
}

/**
 * Every code an error carries: its own, the SQLSTATE a Prisma driver adapter kept in
 * `meta.driverAdapterError.cause.originalCode`, and those along the `cause` chain.
 */
function codesOf(error: unknown): string[] {
  const codes: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current !== undefined; depth += 1) {
    const record = asRecord(current);
    if (record === undefined) break;
    if (typeof record.code === 'string') codes.push(record.code);
    const adapterCause = asRecord(asRecord(asRecord(record.meta)?.driverAdapterError)?.cause);
    if (typeof adapterCause?.originalCode === 'string') codes.push(adapterCause.originalCode);
    current = record.cause;
  }
  return codes;
}

/** True when the same work may succeed if simply run again. */
export function isTransientError(error: unknown): boolean {
  return codesOf(error).some((code) => transientCodes.has(code));
}

/**
 * Maps Prisma's unique violation (P2002) to CONFLICT and record-not-found (P2025) to NOT_FOUND,
 * keeping the Prisma error as `cause` for the log (a repository that knows which constraint
 * means what, such as the email index, maps to a more precise code itself). Anything else is
 * returned unchanged.
 */
export function mapPrismaError(error: unknown): unknown {
  const code = prismaCodeOf(error);
  if (code === 'P2002') return new AppError('CONFLICT', undefined, { cause: error });
  if (code === 'P2025') return new AppError('NOT_FOUND', undefined, { cause: error });
  return error;
}

/** Full jitter on an exponential backoff: spreads competing retries apart. */
function backoffMs(retry: number): number {
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** retry);
  return Math.floor(Math.random() * ceiling);
}

/**
 * Runs `work`, running it again after a short jittered pause when it fails with a transient
 * database error (see `isTransientError`), at most `attempts` times in all (default 3, capped at
 * 10). `work` must be safe to repeat, which a whole database transaction is.
 */
export async function withTransientRetry<T>(
  work: () => Promise<T>,
  options?: { attempts?: number },
): Promise<T> {
  const attempts = Math.min(Math.max(1, Math.floor(options?.attempts ?? defaultAttempts)), attemptsCap);
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await work();
    } catch (error) {
      if (attempt >= attempts || !isTransientError(error)) throw error;
      await sleep(backoffMs(attempt - 1));
    }
  }
}
