import type { HandlerContext } from '@zerostate/bus';
import type { Endpoint, Principal, TransferKind } from '@zerostate/contracts';
import { inStatement, inTransaction } from '@zerostate/database';
import type pg from 'pg';
import type { RequestOrigin } from '../db/audit.js';
import { runIdempotently } from '../db/idempotency.js';
import type { PaymentPrisma, Transaction } from '../db/prisma.js';
import { requestFingerprint } from '../domain/idempotency.js';
import type { PaymentMetrics } from '../metrics.js';
import type { Reconciler } from '../reconciliation.js';

/** What the handlers need; built once by service.ts. */
export interface PaymentDependencies {
  prisma: PaymentPrisma;
  /** The pool Prisma runs on, for a hot single statement outside any transaction (see moveMoney). */
  pool: pg.Pool;
  metrics: PaymentMetrics;
  reconciler: Reconciler;
  /** Wakes the outbox relay after a commit that wrote events. */
  kickOutbox: () => void;
}

export function originOf(context: HandlerContext): RequestOrigin {
  return { requestId: context.requestId, ip: context.clientIp, userAgent: context.userAgent };
}

/** What a money-moving unit of work returns: the response and the transfers it committed. */
export interface MoneyOutcome<T> {
  response: T;
  transfers: TransferKind[];
  /** Runs once the effect committed (never for a replay), e.g. to count it. */
  afterCommit?: () => void;
}

/**
 * Runs one money-moving request as a single transaction. With an Idempotency-Key the effect and
 * the stored response commit together and a repeat replays the response (see
 * `runIdempotently`); keys are scoped to the calling user. Metrics count committed transfers
 * only, and the outbox relay is woken after the commit.
 */
export async function moveMoney<T>(
  dependencies: PaymentDependencies,
  call: {
    context: HandlerContext;
    caller: Principal;
    endpoint: Endpoint;
    input: unknown;
    /**
     * The work is one SQL statement (atomic by itself), so without a key it needs no transaction:
     * it is then handed the pool as well, to run that statement on directly.
     */
    singleStatement?: boolean;
  },
  work: (transaction: Transaction, pool?: pg.Pool) => Promise<MoneyOutcome<T>>,
): Promise<T> {
  let transfers: TransferKind[] = [];
  let afterCommit: (() => void) | undefined;
  const unit = async (transaction: Transaction, pool?: pg.Pool) => {
    const outcome = await work(transaction, pool);
    transfers = outcome.transfers;
    afterCommit = outcome.afterCommit;
    return outcome.response;
  };
  const key = call.context.idempotencyKey;
  let response: T;
  if (key === undefined && call.singleStatement) {
    response = await inStatement(() => unit(dependencies.prisma, dependencies.pool));
  } else if (key === undefined) {
    response = await inTransaction(dependencies.prisma, unit);
  } else {
    const result = await runIdempotently(
      dependencies.prisma,
      {
        scope: call.caller.user_id,
        key,
        endpoint: call.endpoint.name,
        fingerprint: requestFingerprint(call.endpoint.name, call.input),
      },
      unit,
    );
    response = result.response;
    if (result.replayed) {
      transfers = [];
      afterCommit = undefined;
      dependencies.metrics.idempotentReplays.inc({ endpoint: call.endpoint.name });
    }
  }
  for (const kind of transfers) dependencies.metrics.transfers.inc({ kind });
  afterCommit?.();
  if (transfers.length > 0) dependencies.kickOutbox();
  return response;
}
