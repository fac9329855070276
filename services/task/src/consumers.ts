import { auctionEvents } from '@zerostate/contracts';
import { type ConsumerDefinition, defineConsumer } from '@zerostate/service-kit';
import { pgSql } from './db/sql.js';
import { applyTransition, lockTask } from './db/tasks.js';
import { allows } from './domain/lifecycle.js';
import type { TaskMetrics } from './metrics.js';
import type { Saga } from './saga.js';

/**
 * The saga's durable consumers of the auction's outcomes. Each moves the task in the kit's
 * transaction (which also records the event id, so a redelivery changes nothing) and only when
 * the lifecycle table allows it: an award for a task canceled meanwhile is ignored (the cancel's
 * refund stands). What a move makes due (a refund) the saga job pays after the commit.
 */
export function auctionOutcomeConsumers(saga: Saga, metrics: TaskMetrics): ConsumerDefinition<unknown>[] {
  const awarded = defineConsumer({
    name: 'auction-awarded',
    subject: auctionEvents.awarded.subject,
    schema: auctionEvents.awarded.payload,
    handle: async ({ data }, { client, logger }) => {
      if (!data.task_id) return;
      const sql = pgSql(client);
      const task = await lockTask(sql, data.task_id);
      if (!task || !allows(task.status, 'award')) {
        logger.info(
          { task_id: data.task_id, status: task?.status },
          'award for a task that no longer waits for one',
        );
        return;
      }
      saga.crashPoint('before-assign');
      const at = new Date();
      const moved = await applyTransition(sql, task, 'award', {
        actor: 'service:auction',
        at,
        changes: {
          auctionId: data.auction_id,
          assignedAgentId: data.winner_agent_id,
          agentOwnerId: data.winner_owner_id,
          cost: BigInt(data.price),
          assignedAt: at,
          timeoutAt: new Date(at.getTime() + task.timeoutSeconds * 1000),
        },
        detail: { bid_id: data.winner_bid_id, rule: data.rule },
      });
      metrics.transitions.inc({ action: 'award', status: moved.status });
    },
  });

  const expired = defineConsumer({
    name: 'auction-expired',
    subject: auctionEvents.expired.subject,
    schema: auctionEvents.expired.payload,
    handle: async ({ data }, { client }) => {
      if (!data.task_id) return;
      const sql = pgSql(client);
      const task = await lockTask(sql, data.task_id);
      if (!task || !allows(task.status, 'no_bids')) return;
      const moved = await applyTransition(sql, task, 'no_bids', {
        actor: 'service:auction',
        changes: {
          auctionId: data.auction_id,
          error: 'No valid bid: the auction closed without one.',
          failureReason: 'no_valid_bid',
        },
      });
      metrics.transitions.inc({ action: 'no_bids', status: moved.status });
    },
  });

  /** The requester may cancel a task's auction directly; the task is canceled with it. */
  const canceled = defineConsumer({
    name: 'auction-canceled',
    subject: auctionEvents.canceled.subject,
    schema: auctionEvents.canceled.payload,
    handle: async ({ data }, { client }) => {
      if (!data.task_id) return;
      const sql = pgSql(client);
      const task = await lockTask(sql, data.task_id);
      if (!task || task.status === 'assigned' || !allows(task.status, 'cancel')) return;
      const moved = await applyTransition(sql, task, 'cancel', {
        actor: 'service:auction',
        changes: { auctionId: data.auction_id },
        detail: { reason: 'auction canceled' },
      });
      metrics.transitions.inc({ action: 'cancel', status: moved.status });
    },
  });

  return [awarded, expired, canceled] as ConsumerDefinition<unknown>[];
}
