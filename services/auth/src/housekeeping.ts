import { prunePublishedOutbox } from '@zerostate/database';
import { counter, type Logger, type Registry } from '@zerostate/observability';
import { processedEventsRetentionMs, pruneProcessedEvents } from '@zerostate/service-kit';
import type pg from 'pg';
import type { AuthPrisma } from './db/prisma.js';
import { deleteExpiredRefreshTokens } from './db/refresh-tokens.js';

const dayMs = 86_400_000;
/** A refresh token replayed within a day of expiry is still recognised (reuse detection). */
const refreshTokenGraceMs = dayMs;
/**
 * Published events are already in JetStream; the rows are kept a week for debugging and for
 * re-publishing by hand after an incident.
 */
const outboxRetentionMs = 7 * dayMs;
const defaultBatchSize = 1_000;
const defaultMaxBatchesPerRun = 20;

export interface HousekeepingOptions {
  prisma: AuthPrisma;
  pool: pg.Pool;
  logger: Logger;
  registry: Registry;
  /** Rows deleted per statement (default 1000). */
  batchSize?: number;
  /** Statements per table per run (default 20), so one run stays bounded whatever the backlog. */
  maxBatchesPerRun?: number;
}

/** Rows one run deleted, by table. */
export interface HousekeepingCounts {
  refreshTokens: number;
  outbox: number;
  processedEvents: number;
}

export interface Housekeeping {
  /**
   * One run (runs in this process are chained, never overlapping); resolves with what it deleted.
   * Once `signal` aborts the run ends after its current batch, and later runs on an aborted
   * signal delete nothing.
   */
  run(signal?: AbortSignal): Promise<HousekeepingCounts>;
}

type TableName = 'refresh_tokens' | 'outbox' | 'processed_events';

/** Deletes batches until one comes back short or the cap is reached; counts each batch as it goes. */
async function deleteInBatches(
  deleteBatch: () => Promise<number>,
  limits: { batchSize: number; maxBatches: number; signal: AbortSignal | undefined },
  onDeleted: (count: number) => void,
): Promise<number> {
  let total = 0;
  for (let batch = 0; batch < limits.maxBatches && !limits.signal?.aborted; batch += 1) {
    const deleted = await deleteBatch();
    onDeleted(deleted);
    total += deleted;
    if (deleted < limits.batchSize) break;
  }
  return total;
}

/**
 * Deletes what only grows: refresh tokens expired more than a day ago, outbox rows published
 * more than a week ago, event ids consumers applied more than a week ago (audit log rows are a security record and are kept). Every replica runs
 * it; the deletes are batched, idempotent and skip rows another replica holds, so no lock or
 * leader is needed (the service runs it as a kit job, so once per interval across replicas). A
 * failed run is logged and rethrown; the job tries again at the next interval.
 */
export function createHousekeeping(options: HousekeepingOptions): Housekeeping {
  const batchSize = options.batchSize ?? defaultBatchSize;
  const maxBatches = options.maxBatchesPerRun ?? defaultMaxBatchesPerRun;
  const deletedRows = counter(
    options.registry,
    'auth_housekeeping_deleted_rows_total',
    'Rows deleted by the auth housekeeping, by table.',
    ['table'],
  );
  // Runs are chained so a direct run never overlaps the job's in this process.
  let latestRun: Promise<unknown> = Promise.resolve();

  const runNow = async (signal: AbortSignal | undefined): Promise<HousekeepingCounts> => {
    const deleteTable = (table: TableName, deleteBatch: () => Promise<number>) =>
      deleteInBatches(deleteBatch, { batchSize, maxBatches, signal }, (count) =>
        deletedRows.inc({ table }, count),
      );
    const startedAt = performance.now();
    const counts: HousekeepingCounts = { refreshTokens: 0, outbox: 0, processedEvents: 0 };
    const durationMs = () => Math.round(performance.now() - startedAt);
    try {
      counts.refreshTokens = await deleteTable('refresh_tokens', () =>
        deleteExpiredRefreshTokens(options.prisma, { graceMs: refreshTokenGraceMs, batchSize }),
      );
      counts.outbox = await deleteTable('outbox', () =>
        prunePublishedOutbox(options.pool, { olderThanMs: outboxRetentionMs, batchSize }),
      );
      counts.processedEvents = await deleteTable('processed_events', () =>
        pruneProcessedEvents(options.pool, { olderThanMs: processedEventsRetentionMs, batchSize }),
      );
    } catch (error) {
      options.logger.warn(
        {
          err: error,
          refresh_tokens_deleted: counts.refreshTokens,
          outbox_deleted: counts.outbox,
          processed_events_deleted: counts.processedEvents,
          duration_ms: durationMs(),
        },
        'housekeeping run failed; will retry at the next interval',
      );
      throw error;
    }
    options.logger.info(
      {
        refresh_tokens_deleted: counts.refreshTokens,
        outbox_deleted: counts.outbox,
        processed_events_deleted: counts.processedEvents,
        duration_ms: durationMs(),
      },
      'housekeeping run finished',
    );
    return counts;
  };

  return {
    run: (signal) => {
      const next = latestRun.then(() => runNow(signal));
      latestRun = next.catch(() => undefined);
      return next;
    },
  };
}
