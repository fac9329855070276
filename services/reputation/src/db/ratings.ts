import type { Rating } from '@zerostate/contracts';
import type { Sql } from './sql.js';

export interface StoredRating {
  taskId: string;
  agentId: string;
  requesterId: string;
  rating: number;
  comment: string | null;
  createdAt: Date;
  idempotencyKey: string | null;
  fingerprint: string | null;
}

interface RatingRow {
  task_id: string;
  agent_id: string;
  requester_id: string;
  rating: number;
  comment: string | null;
  created_at: Date;
  idempotency_key: string | null;
  fingerprint: string | null;
}

const toStored = (row: RatingRow): StoredRating => ({
  taskId: row.task_id,
  agentId: row.agent_id,
  requesterId: row.requester_id,
  rating: row.rating,
  comment: row.comment,
  createdAt: row.created_at,
  idempotencyKey: row.idempotency_key,
  fingerprint: row.fingerprint,
});

/** The rating a requester made with this Idempotency-Key, if any. */
export async function findRatingByKey(
  sql: Sql,
  requesterId: string,
  key: string,
): Promise<StoredRating | undefined> {
  const { rows } = await sql.query<RatingRow>(
    'SELECT * FROM ratings WHERE requester_id = $1 AND idempotency_key = $2',
    [requesterId, key],
  );
  return rows[0] && toStored(rows[0]);
}

/** Inserts the task's one rating; false when the task already has one (RATING_EXISTS). */
export async function insertRating(
  sql: Sql,
  rating: Omit<StoredRating, 'createdAt'> & { costMicro: bigint; createdAt: Date },
): Promise<boolean> {
  const result = await sql.query(
    `INSERT INTO ratings (task_id, agent_id, requester_id, rating, comment, cost_micro, idempotency_key, fingerprint, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (task_id) DO NOTHING`,
    [
      rating.taskId,
      rating.agentId,
      rating.requesterId,
      rating.rating,
      rating.comment,
      rating.costMicro.toString(),
      rating.idempotencyKey,
      rating.fingerprint,
      rating.createdAt,
    ],
  );
  return result.rowCount === 1;
}

export function encodeRating(rating: StoredRating): Rating {
  return {
    task_id: rating.taskId,
    agent_id: rating.agentId,
    requester_id: rating.requesterId,
    rating: rating.rating,
    comment: rating.comment,
    created_at: rating.createdAt.toISOString(),
  };
}
