import { paymentEvents, type ReconciliationReport } from '@zerostate/contracts';
import {
  enqueueEvent,
  inTransaction,
  lockForTransaction,
  tryLockForTransaction,
  uuidV7,
} from '@zerostate/database';
import type { Logger } from '@zerostate/observability';
import { type RequestOrigin, writeAudit } from './db/audit.js';
import type { JsonInput, PaymentPrisma } from './db/prisma.js';
import { checkInvariants } from './db/reconciliation.js';
import type { PaymentMetrics } from './metrics.js';

const lockName = 'payment:reconciliation';

export interface Reconciler {
  /**
   * The periodic run (the kit's job lets one replica per interval call it): skipped (undefined)
   * when an admin's run holds the lock, since that run checks the same snapshot anyway.
   */
  runScheduled(): Promise<ReconciliationReport | undefined>;
  /** An admin's run: waits for a run in progress, then checks now. */
  runNow(actor: { did: string; origin: RequestOrigin }): Promise<ReconciliationReport>;
}

/**
 * Checks the ledger invariants (SPEC §4.2) on one consistent snapshot (REPEATABLE READ), records
 * the run in `reconciliation_runs`, counts violations in
 * `payment_balance_invariant_violations_total`, and emits `evt.payment.invariant.violated`.
 * Replicas coordinate through a Postgres advisory lock: no leader election needed.
 */
export function createReconciler(options: {
  prisma: PaymentPrisma;
  logger: Logger;
  metrics: PaymentMetrics;
  kickOutbox: () => void;
}): Reconciler {
  const { prisma, logger, metrics } = options;

  const run = async (
    trigger: 'scheduled' | 'manual',
    actor?: { did: string; origin: RequestOrigin },
  ): Promise<ReconciliationReport | undefined> => {
    const started = performance.now();
    const report = await inTransaction(
      prisma,
      async (transaction) => {
        if (trigger === 'manual') {
          await lockForTransaction(transaction, lockName);
        } else {
          if (!(await tryLockForTransaction(transaction, lockName))) return undefined;
        }
        const found = await checkInvariants(transaction);
        const result: ReconciliationReport = {
          checked_at: new Date().toISOString(),
          ok: found.violations.length === 0,
          violations: found.violations,
          totals: found.totals,
        };
        const runId = uuidV7();
        await transaction.reconciliationRun.create({
          data: {
            id: runId,
            trigger,
            violations: found.violations.length,
            report: result as unknown as JsonInput,
          },
        });
        if (found.violations.length > 0) {
          await enqueueEvent(transaction, paymentEvents.invariantViolated, {
            run_id: runId,
            violations: found.violations.length,
          });
        }
        if (actor) {
          await writeAudit(transaction, actor.origin, {
            action: 'payment.reconciliation.run',
            actorDid: actor.did,
            targetId: runId,
            metadata: { violations: found.violations.length },
          });
        }
        return result;
      },
      // An admin's run must end inside the 30 s its NATS contract waits, so it is tried once (a
      // failed run only means "ask again"); a scheduled one may take a minute and is retried.
      trigger === 'manual'
        ? { isolationLevel: 'RepeatableRead', timeoutMs: 25_000, attempts: 1 }
        : { isolationLevel: 'RepeatableRead', timeoutMs: 60_000 },
    );
    if (!report) return undefined;
    for (const violation of report.violations)
      metrics.invariantViolations.inc({ invariant: violation.invariant });
    metrics.reconciliationRuns.inc({ trigger, result: report.ok ? 'ok' : 'violations' });
    metrics.reconciliationLastRun.set(Date.now() / 1000);
    const summary = {
      trigger,
      violations: report.violations.length,
      totals: report.totals,
      duration_ms: Math.round(performance.now() - started),
    };
    if (report.ok) logger.info(summary, 'reconciliation found no violations');
    else {
      logger.error(
        { ...summary, first_violations: report.violations.slice(0, 5) },
        'ledger invariants violated',
      );
      options.kickOutbox();
    }
    return report;
  };

  return {
    runScheduled: () => run('scheduled'),
    runNow: async (actor) => (await run('manual', actor))!,
  };
}
