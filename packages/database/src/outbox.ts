import type { OutboxRow, OutboxStore } from '@zerostate/contracts';
import type pg from 'pg';
import { deleteAgedBatch } from './prune.js';

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
  const { rows } = await client.query<OutboxRecord>({
    name: 'outbox_claim',
    text: claimSql,
    values: [limit],
  });
  // Sent together, in the batch's occurred_at order: the publishes leave on the one connection in
  // that order, so JetStream stores them so when all succeed, and the batch waits for all the acks
  // at once. That order holds within this batch only: another replica may publish the next batch
  // at the same time, a transaction that commits late can make a row with an earlier occurred_at
  // visible after later rows went out, and a row whose publish failed goes out later than the
  // rows after it. Consumers must not rely on a global order.
  const sent = await Promise.allSettled(
    rows.map((row) =>
      publish({
        id: row.id,
        subject: row.subject,
        payload: row.payload,
        occurredAt: row.occurred_at,
        headers: row.headers ?? {},
      }),
    ),
  );
  const published = rows.filter((_, index) => sent[index]!.status === 'fulfilled');
  if (published.length > 0) {
    await client.query({
      name: 'outbox_mark_published',
      text: markPublishedSql,
      values: [published.map((row) => row.id)],
    });
  }
  const failed = sent.find((outcome) => outcome.status === 'rejected');
  if (failed) {
    // The rows JetStream stored are marked, so a row that keeps failing does not send the rest of
    // its batch again on every retry; the failed ones stay unpublished for the next attempt.
    await client.query('COMMIT');
    throw failed.reason;
  }
  await client.query('COMMIT');
  return rows.length;
}

/**
 * The outbox relay's view of the `outbox` table every service has (id uuid, subject, payload
 * jsonb, headers jsonb, occurred_at, published_at). A batch is claimed with FOR UPDATE SKIP
 * LOCKED, so replicas relaying at once never publish the same row twice. When a publish fails,
 * the rows JetStream acknowledged are marked published and the failed ones stay unpublished for
 * the next attempt (JetStream de-duplicates by event id a row whose ack was lost); the error
 * propagates. Each batch is published in occurred_at order among the rows committed and visible
 * when it was claimed; there is no global order across batches or replicas.
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
 * Deletes up to `batchSize` outbox rows published more than `olderThanMs` ago and returns how
 * many went. Unpublished rows are never touched (their published_at is NULL). Idempotent and safe
 * with several replicas (see `deleteAgedBatch`).
 */
export function prunePublishedOutbox(
  pool: pg.Pool,
  options: { olderThanMs: number; batchSize: number },
): Promise<number> {
  return deleteAgedBatch(pool, { table: 'outbox', key: ['id'], agedBy: 'published_at' }, options);
}
