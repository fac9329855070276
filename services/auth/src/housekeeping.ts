import { prunePublishedOutbox } from '@zerostate/database';
import { counter, type Logger, type Registry } from '@zerostate/observability';
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
  /** Pause between runs; the first run starts one interval after start. */
  intervalMs: number;
  /** Rows deleted per statement (default 1000). */
  batchSize?: number;
  /** Statements per table per run (default 20), so one run stays bounded whatever the backlog. */
  maxBatchesPerRun?: number;
}

/** Rows one run deleted, by table. */
export interface HousekeepingCounts {
  refreshTokens: number;
  outbox: number;
}

export interface Housekeeping {
  /** Runs once now (after any run in progress) and resolves with what it deleted. */
  runOnce(): Promise<HousekeepingCounts>;
  /**
   * Cancels the next run and waits for a run in progress, which ends after its current batch.
   * Runs asked for after stop delete nothing.
   */
  stop(): Promise<void>;
}

type TableName = 'refresh_tokens' | 'outbox';

/** Deletes batches until one comes back short or the cap is reached; counts each batch as it goes. */
async function deleteInBatches(
  deleteBatch: () => Promise<number>,
  limits: { batchSize: number; maxBatches: number; isStopping: () => boolean },
  onDeleted: (count: number) => void,
): Promise<number> {
  let total = 0;
  for (let batch = 0; batch < limits.maxBatches && !limits.isStopping(); batch += 1) {
    const deleted = await deleteBatch();
    onDeleted(deleted);
    total += deleted;
    if (deleted < limits.batchSize) break;
  }
  return total;
}

/**
 * Deletes what only grows: refresh tokens expired more than a day ago and outbox rows published
 * more than a week ago (audit log rows are a security record and are kept). Every replica runs
 * it; the deletes are batched, idempotent and skip rows another replica holds, so no lock or
 * leader is needed. A failed run is logged and simply tried again at the next interval.
 */
export function startHousekeeping(options: HousekeepingOptions): Housekeeping {
  const batchSize = options.batchSize ?? defaultBatchSize;
  const maxBatches = options.maxBatchesPerRun ?? defaultMaxBatchesPerRun;
  const deletedRows = counter(
    options.registry,
    'auth_housekeeping_deleted_rows_total',
    'Rows deleted by the auth housekeeping, by table.',
    ['table'],
  );
  let stopping = false;
  let timer: NodeJS.Timeout | undefined;
  // Runs are chained so a direct runOnce never overlaps a timed one in this process.
  let latestRun: Promise<unknown> = Promise.resolve();

  const deleteTable = (table: TableName, deleteBatch: () => Promise<number>) =>
    deleteInBatches(deleteBatch, { batchSize, maxBatches, isStopping: () => stopping }, (count) =>
      deletedRows.inc({ table }, count),
    );

  const run = async (): Promise<HousekeepingCounts> => {
    const startedAt = performance.now();
    const counts: HousekeepingCounts = { refreshTokens: 0, outbox: 0 };
    const durationMs = () => Math.round(performance.now() - startedAt);
    try {
      counts.refreshTokens = await deleteTable('refresh_tokens', () =>
        deleteExpiredRefreshTokens(options.prisma, { graceMs: refreshTokenGraceMs, batchSize }),
      );
      counts.outbox = await deleteTable('outbox', () =>
        prunePublishedOutbox(options.pool, { olderThanMs: outboxRetentionMs, batchSize }),
      );
    } catch (error) {
      options.logger.warn(
        {
          err: error,
          refresh_tokens_deleted: counts.refreshTokens,
          outbox_deleted: counts.outbox,
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
        duration_ms: durationMs(),
      },
      'housekeeping run finished',
    );
    return counts;
  };

  const runOnce = (): Promise<HousekeepingCounts> => {
    const next = latestRun.then(run);
    latestRun = next.catch(() => undefined);
    return next;
  };

  const schedule = () => {
    if (stopping) return;
    timer = setTimeout(() => {
      // The failure is already logged by run(); the next interval is the retry.
      void runOnce()
        .catch(() => undefined)
        .finally(schedule);
    }, options.intervalMs);
    // Housekeeping alone must never keep the process alive.
    timer.unref();
  };
  schedule();

  return {
    runOnce,
    stop: async () => {
      stopping = true;
      clearTimeout(timer);
      await latestRun;
    },
  };
}
