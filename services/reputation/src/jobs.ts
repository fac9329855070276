import { inTransaction, pgTransactions, prunePublishedOutbox } from '@zerostate/database';
import type { Logger } from '@zerostate/observability';
import { processedEventsRetentionMs, pruneProcessedEvents } from '@zerostate/service-kit';
import type pg from 'pg';
import { rescore, staleScores } from './db/scores.js';
import type { Clock } from './events.js';
import type { ReputationMetrics } from './metrics.js';

const dayMs = 86_400_000;
const outboxRetentionMs = 7 * dayMs;
const pruneBatchSize = 1_000;
const pruneBatchesMax = 20;

/**
 * Brings stored scores up to date with decay: agents whose score was computed more than `ageMs`
 * ago are recomputed at the clock, one transaction each (a changed score enqueues
 * `evt.reputation.score.updated`). Returns how many changed. Stops after the current agent
 * when `signal` aborts.
 */
export async function decayScores(options: {
  pool: pg.Pool;
  clock: Clock;
  ageMs: number;
  batch: number;
  signal?: AbortSignal;
  metrics?: ReputationMetrics;
}): Promise<number> {
  const now = options.clock();
  const stale = await staleScores(options.pool, new Date(now.getTime() - options.ageMs), options.batch);
  let changed = 0;
  for (const agent of stale) {
    if (options.signal?.aborted) break;
    const moved = await inTransaction(pgTransactions(options.pool), (client) => rescore(client, agent, now));
    options.metrics?.decayed.inc({ changed: String(moved) });
    if (moved) changed += 1;
  }
  return changed;
}

/** Published outbox rows and processed event ids older than a week, in bounded batches. */
export async function housekeep(pool: pg.Pool, logger: Logger, signal?: AbortSignal): Promise<void> {
  let outbox = 0;
  let processed = 0;
  for (let batch = 0; batch < pruneBatchesMax && !signal?.aborted; batch += 1) {
    const deleted = await prunePublishedOutbox(pool, {
      olderThanMs: outboxRetentionMs,
      batchSize: pruneBatchSize,
    });
    outbox += deleted;
    if (deleted < pruneBatchSize) break;
  }
  for (let batch = 0; batch < pruneBatchesMax && !signal?.aborted; batch += 1) {
    const deleted = await pruneProcessedEvents(pool, {
      olderThanMs: processedEventsRetentionMs,
      batchSize: pruneBatchSize,
    });
    processed += deleted;
    if (deleted < pruneBatchSize) break;
  }
  if (outbox + processed > 0)
    logger.info({ outbox, processed_events: processed }, 'housekeeping deleted rows');
}
