import assert from 'node:assert/strict';
import type pg from 'pg';

/** A table whose rows age out: its key columns and the timestamp that ages them. */
export interface AgedTable {
  table: string;
  key: readonly string[];
  agedBy: string;
}

const identifier = /^[a-z_][a-z0-9_]*$/;

/**
 * Deletes up to `batchSize` rows of `target` whose `agedBy` is more than `olderThanMs` old and
 * returns how many went. The cutoff uses the database clock, the clock that wrote the timestamp,
 * so host clock skew cannot shorten a retention; rows whose timestamp is NULL are never touched;
 * SKIP LOCKED lets replicas pruning at once split the work instead of waiting on each other.
 * Callers loop while a full batch comes back, with a cap of their own.
 */
export async function deleteAgedBatch(
  pool: pg.Pool,
  target: AgedTable,
  options: { olderThanMs: number; batchSize: number },
): Promise<number> {
  assert(Number.isFinite(options.olderThanMs) && options.olderThanMs >= 0, 'olderThanMs must be >= 0');
  assert(
    Number.isSafeInteger(options.batchSize) && options.batchSize > 0,
    'batchSize must be a positive integer',
  );
  // Names come from code, never from input; checked so a typo cannot become SQL.
  for (const name of [target.table, target.agedBy, ...target.key])
    assert(identifier.test(name), `bad name ${name}`);
  const key = target.key.join(', ');
  const sql = `
DELETE FROM ${target.table} WHERE (${key}) IN (
  SELECT ${key} FROM ${target.table}
  WHERE ${target.agedBy} < now() - $1::double precision * interval '1 millisecond'
  LIMIT $2 FOR UPDATE SKIP LOCKED)`;
  const result = await pool.query(sql, [options.olderThanMs, options.batchSize]);
  return result.rowCount ?? 0;
}
