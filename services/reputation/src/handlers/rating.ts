import { createHash, randomUUID } from 'node:crypto';
import { endpoint, type Registration } from '@zerostate/bus';
import { reputationEndpoints, reputationEvents } from '@zerostate/contracts';
import { enqueueEvent, inTransaction, pgTransactions } from '@zerostate/database';
import { AppError } from '@zerostate/errors';
import { countRating } from '../db/agents.js';
import { insertEvidence } from '../db/evidence.js';
import { encodeRating, findRatingByKey, insertRating, type StoredRating } from '../db/ratings.js';
import { rescore } from '../db/scores.js';
import { lockTask } from '../db/tasks.js';
import { ratingEvidence } from '../domain/outcomes.js';
import { decideRating, requireRater } from '../domain/rating-rules.js';
import type { ReputationDependencies } from './dependencies.js';

/** What an Idempotency-Key is bound to: the task and the body. */
function fingerprintOf(input: { id: string; rating: number; comment?: string | undefined }): string {
  const canonical = JSON.stringify([input.id, input.rating, input.comment ?? null]);
  return createHash('sha256').update(canonical).digest('hex');
}

/**
 * rate: the task's paying requester rates a completed task once (domain/rating-rules.ts). The
 * rating, its evidence, the agent's new score and the events commit together. With an
 * Idempotency-Key a repeat of the same request answers the first rating; the same key with
 * another body is IDEMPOTENCY_KEY_REUSED, and one still in flight IDEMPOTENCY_REQUEST_IN_PROGRESS.
 */
export function ratingRegistrations({
  pool,
  clock,
  kickOutbox,
  metrics,
}: ReputationDependencies): Registration[] {
  const rate = endpoint(reputationEndpoints.rate, async (input, context) => {
    const caller = requireRater(context.principal);
    const key = context.idempotencyKey;
    const fingerprint = fingerprintOf(input);
    const outcome = await inTransaction(
      pgTransactions(pool),
      async (client): Promise<{ rating: StoredRating; replayed: boolean }> => {
        if (key !== undefined) {
          const { rows } = await client.query<{ locked: boolean }>(
            'SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0)) AS locked',
            [`rating\n${caller.user_id}\n${key}`],
          );
          if (!rows[0]?.locked) throw new AppError('IDEMPOTENCY_REQUEST_IN_PROGRESS');
          const previous = await findRatingByKey(client, caller.user_id, key);
          if (previous) {
            if (previous.fingerprint !== fingerprint) throw new AppError('IDEMPOTENCY_KEY_REUSED');
            return { rating: previous, replayed: true };
          }
        }
        const task = decideRating(await lockTask(client, input.id), caller);
        const now = clock();
        const rating: StoredRating & { costMicro: bigint } = {
          taskId: task.taskId,
          agentId: task.agentId,
          requesterId: caller.user_id,
          rating: input.rating,
          comment: input.comment ?? null,
          costMicro: task.costMicro,
          createdAt: now,
          idempotencyKey: key ?? null,
          fingerprint: key === undefined ? null : fingerprint,
        };
        if (!(await insertRating(client, rating))) throw new AppError('RATING_EXISTS');
        await insertEvidence(client, {
          id: randomUUID(),
          agentId: task.agentId,
          taskId: task.taskId,
          kind: 'rating',
          evidence: ratingEvidence({
            requesterId: caller.user_id,
            agentOwnerId: task.agentOwnerId,
            rating: input.rating,
            costMicro: task.costMicro,
            at: now,
          }),
        });
        await countRating(client, task.agentId, input.rating);
        await rescore(client, { agentId: task.agentId, ownerId: task.agentOwnerId }, now);
        await enqueueEvent(client, reputationEvents.ratingGiven, {
          task_id: task.taskId,
          agent_id: task.agentId,
          requester_id: caller.user_id,
          rating: input.rating,
          created_at: now.toISOString(),
        });
        return { rating, replayed: false };
      },
    );
    if (!outcome.replayed) {
      metrics.ratings.inc();
      kickOutbox();
    }
    return encodeRating(outcome.rating);
  });
  return [rate];
}
