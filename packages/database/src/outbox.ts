import assert from 'node:assert/strict';
import type { OutboxRow, OutboxStore } from '@zerostate/contracts';
import type pg from 'pg';

interface OutboxRecord {
  id: string;
  subject: string;
  payload: unknown;
  occurred_at: Date;
  /** Null only for rows written before the column existed (it defaults to '{}'). */
  headers: Record<string, string> | null;
}

const claimSql =
  'SELECT id, subject, payload, occurred_at, headers FROM outbox WHERE published_at IS NULL ' +
  'ORDER BY occurred_at, id LIMIT $1 FOR UPDATE SKIP LOCKED';

const markPublishedSql = 'UPDATE outbox SET published_at = now() WHERE id = ANY($1::uuid[])';

async function relayWithClient(
  client: pg.PoolClient,
  limit: number,
  publish: (row: OutboxRow) => Promise<void>,
): Promise<number> {
  await client.query('BEGIN');
  const { rows } = await client.query<OutboxRecord>(claimSql, [limit]);
  // One at a time, in the batch's occurred_at order. That order holds within this batch only:
  // another replica may publish the next batch at the same time, and a transaction that commits
  // late can make a row with an earlier occurred_at visible after later rows went out. Consumers
  // must not rely on a global order across batches or replicas.
  for (const row of rows) {
    await publish({
      id: row.id,
      subject: row.subject,
      payload: row.payload,
      occurredAt: row.occurred_at,
      headers: row.headers ?? {},
    });
  }
  if (rows.length > 0) {
    await client.query(markPublishedSql, [rows.map((row) => row.id)]);
  }
  await client.query('COMMIT');
  return rows.length;
}

/**
 * The outbox relay's view of the `outbox` table every service has (id uuid, subject, payload
 * jsonb, headers jsonb, occurred_at, published_at). A batch is claimed with FOR UPDATE SKIP
 * LOCKED, so replicas relaying at once never publish the same row twice; any failure rolls the
 * batch back and leaves its rows unpublished for the next attempt (JetStream de-duplicates by
 * event id the rows a previous attempt already published). Each batch is published in
 * occurred_at order among the rows committed and visible when it was claimed; there is no global
 * order across batches or replicas.
 */
export function pgOutboxStore(pool: pg.Pool): OutboxStore {
  return {
    async relayBatch(limit, publish) {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        return await relayWithClient(client, limit, publish);
      } catch (error) {
        await client.query('ROLLBACK').catch((rollbackError: unknown) => {
          // A connection that cannot even roll back must not go back into the pool.
          broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
        });
        throw error;
      } finally {
        client.release(broken);
      }
    },
  };
}

/**
 * Deletes one bounded batch. The cutoff uses the database clock, the same clock that wrote
 * published_at, so application-host clock skew cannot shorten the retention. SKIP LOCKED lets
 * replicas pruning at once split the work instead of waiting on each other's rows.
 */
const prunePublishedSql = `
DELETE FROM outbox WHERE id IN (
  SELECT id FROM outbox
  WHERE published_at < now() - $1::double precision * interval '1 millisecond'
  LIMIT $2 FOR UPDATE SKIP LOCKED)`;

/**
 * Deletes up to `batchSize` outbox rows published more than `olderThanMs` ago and returns how
 * many went. Unpublished rows are never touched (their published_at is NULL). Idempotent and safe
 * with several replicas; callers loop while a full batch comes back, with a cap of their own.
 */
export async function prunePublishedOutbox(
  pool: pg.Pool,
  options: { olderThanMs: number; batchSize: number },
): Promise<number> {
  assert(Number.isFinite(options.olderThanMs) && options.olderThanMs >= 0, 'olderThanMs must be >= 0');
  assert(
    Number.isSafeInteger(options.batchSize) && options.batchSize > 0,
    'batchSize must be a positive integer',
  );
  const result = await pool.query(prunePublishedSql, [options.olderThanMs, options.batchSize]);
  return result.rowCount ?? 0;
}
