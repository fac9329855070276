import { deleteAgedBatch } from '@zerostate/database';
import type pg from 'pg';

/** How long processed ids are kept by default: as long as the EVENTS stream keeps events. */
export const processedEventsRetentionMs = 7 * 24 * 3_600_000;

/**
 * Deletes up to `batchSize` processed_events rows recorded more than `olderThanMs` ago and
 * returns how many went. Keep `olderThanMs` at least as long as the EVENTS stream keeps events
 * (7 days, `processedEventsRetentionMs`): an id pruned while its event can still be redelivered
 * would let that event apply twice. Callers loop while a full batch comes back, with a cap.
 */
export function pruneProcessedEvents(
  pool: pg.Pool,
  options: { olderThanMs: number; batchSize: number },
): Promise<number> {
  return deleteAgedBatch(
    pool,
    { table: 'processed_events', key: ['consumer', 'event_id'], agedBy: 'processed_at' },
    options,
  );
}
