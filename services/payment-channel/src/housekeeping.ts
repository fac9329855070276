import { prunePublishedOutbox } from '@zerostate/database';
import { processedEventsRetentionMs, pruneProcessedEvents } from '@zerostate/service-kit';
import type pg from 'pg';
import { pruneIdempotencyRecords } from './db/idempotency.js';
import type { PaymentPrisma } from './db/prisma.js';
import type { PaymentMetrics } from './metrics.js';

const dayMs = 86_400_000;
/** Published events are in JetStream already; rows stay a week for debugging and re-publishing. */
const outboxRetentionMs = 7 * dayMs;
/** Clean reconciliation runs are a heartbeat; after 90 days only the runs that found damage stay. */
const cleanRunRetentionDays = 90;
const batchSize = 1_000;
const batchesPerRunMax = 20;

/**
 * Deletes idempotency records past their retention, outbox rows published a week ago, event ids
 * consumers applied a week ago (the stream no longer holds those events) and clean
 * reconciliation runs older than 90 days (runs that found violations are kept), in
 * bounded batches that skip rows another replica holds, so every replica may run it. Ledger,
 * channel, escrow and audit rows are the money record and are never deleted.
 */
export async function housekeep(options: {
  prisma: PaymentPrisma;
  pool: pg.Pool;
  metrics: PaymentMetrics;
  idempotencyRetentionHours: number;
}): Promise<{
  idempotencyRecords: number;
  outbox: number;
  processedEvents: number;
  reconciliationRuns: number;
}> {
  const drain = async (table: string, deleteBatch: () => Promise<number>) => {
    let total = 0;
    for (let batch = 0; batch < batchesPerRunMax; batch += 1) {
      const deleted = await deleteBatch();
      options.metrics.housekeepingDeleted.inc({ table }, deleted);
      total += deleted;
      if (deleted < batchSize) break;
    }
    return total;
  };
  return {
    idempotencyRecords: await drain('idempotency_records', () =>
      pruneIdempotencyRecords(options.prisma, {
        olderThanHours: options.idempotencyRetentionHours,
        batchSize,
      }),
    ),
    outbox: await drain('outbox', () =>
      prunePublishedOutbox(options.pool, { olderThanMs: outboxRetentionMs, batchSize }),
    ),
    processedEvents: await drain('processed_events', () =>
      pruneProcessedEvents(options.pool, { olderThanMs: processedEventsRetentionMs, batchSize }),
    ),
    reconciliationRuns: await drain(
      'reconciliation_runs',
      () =>
        options.prisma.$executeRaw`
        DELETE FROM reconciliation_runs WHERE id IN (
          SELECT id FROM reconciliation_runs
          WHERE violations = 0 AND created_at < now() - ${cleanRunRetentionDays}::int * interval '1 day'
          LIMIT ${batchSize}::int FOR UPDATE SKIP LOCKED)`,
    ),
  };
}
