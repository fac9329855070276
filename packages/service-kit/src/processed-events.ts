import assert from 'node:assert/strict';
import type pg from 'pg';

/**
 * One bounded batch, aged by the database clock (the clock that wrote processed_at), so host
 * clock skew cannot shorten the retention. SKIP LOCKED lets replicas pruning at once split the
 * work instead of waiting on each other.
 */
const pruneSql = `
DELETE FROM processed_events WHERE (consumer, event_id) IN (
  SELECT consumer, event_id FROM processed_events
  WHERE processed_at < now() - $1::double precision * interval '1 millisecond'
  LIMIT $2 FOR UPDATE SKIP LOCKED)`;

/** How long processed ids are kept by default: as long as the EVENTS stream keeps events. */
export const processedEventsRetentionMs = 7 * 24 * 3_600_000;

/**
 * Deletes up to `batchSize` processed_events rows recorded more than `olderThanMs` ago and
 * returns how many went. Keep `olderThanMs` at least as long as the EVENTS stream keeps events
 * (7 days, `processedEventsRetentionMs`): an id pruned while its event can still be redelivered
 * would let that event apply twice. Callers loop while a full batch comes back, with a cap.
 */
export async function pruneProcessedEvents(
  pool: pg.Pool,
  options: { olderThanMs: number; batchSize: number },
): Promise<number> {
  assert(Number.isFinite(options.olderThanMs) && options.olderThanMs >= 0, 'olderThanMs must be >= 0');
  assert(
    Number.isSafeInteger(options.batchSize) && options.batchSize > 0,
    'batchSize must be a positive integer',
  );
  const result = await pool.query(pruneSql, [options.olderThanMs, options.batchSize]);
  return result.rowCount ?? 0;
}
