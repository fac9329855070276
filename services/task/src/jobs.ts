import { prunePublishedOutbox } from '@zerostate/database';
import type { Logger } from '@zerostate/observability';
import {
  defineJob,
  type JobDefinition,
  processedEventsRetentionMs,
  pruneProcessedEvents,
} from '@zerostate/service-kit';
import type pg from 'pg';
import type { TaskConfig } from './config.js';
import type { TaskPrisma } from './db/prisma.js';
import { prismaSql } from './db/sql.js';
import { applyTransition, dueQueries, findTask, lockTask } from './db/tasks.js';
import { allows, type TaskAction } from './domain/lifecycle.js';
import type { TaskMetrics } from './metrics.js';
import type { Saga } from './saga.js';

const batch = 100;
/**
 * A replica that dies mid-run holds its job this long (the kit's default is 5 minutes). Short,
 * because a run that outlives it and overlaps the next is harmless: every step is idempotent and
 * every task is taken with SKIP LOCKED.
 */
const jobLeaseMs = 30_000;

/**
 * The saga's periodic work, each job run by one replica per interval (the kit's claim), each task
 * taken with SKIP LOCKED and moved only if the table still allows it, so overlapping runs never
 * move a task twice:
 * - `task-deadlines`: `timeout_seconds` after assignment without a result → `timed_out`; the
 *   acceptance window passed on a submitted result → `completed` (as if accepted).
 * - `task-saga`: every step still owed — holds and auctions of tasks left `pending`, and captures
 *   and refunds not yet confirmed (after a crash, a timeout, or a peer that was down).
 * - `task-housekeeping`: published outbox rows and processed event ids after 7 days. Tasks and
 *   their history are kept.
 */
export function taskJobs(options: {
  prisma: TaskPrisma;
  pool: pg.Pool;
  logger: Logger;
  saga: Saga;
  config: TaskConfig;
  metrics: TaskMetrics;
  kickOutbox(): void;
}): JobDefinition[] {
  const { prisma, saga, config, metrics } = options;
  const ids = async (query: string, values: unknown[]) =>
    (await prismaSql(prisma).query<{ id: string }>(query, values)).map((row) => row.id);

  /** Moves one due task by `action` unless another replica holds it or it moved on. */
  const moveDue = async (id: string, action: TaskAction) => {
    const moved = await saga.transact(async (sql) => {
      const task = await lockTask(sql, id, { skipLocked: true });
      if (!task || !allows(task.status, action)) return undefined;
      const at = new Date();
      return applyTransition(sql, task, action, {
        actor: 'service:task',
        at,
        ...(action === 'accept'
          ? { changes: { completedAt: at }, detail: { reason: 'acceptance window passed' } }
          : {}),
      });
    });
    if (!moved) return;
    metrics.transitions.inc({ action, status: moved.status });
    options.kickOutbox();
    await saga.settle(moved.id, `job-${action}-${moved.id}`);
  };

  return [
    defineJob({
      name: 'task-deadlines',
      intervalMs: config.TASK_DEADLINE_INTERVAL_MS,
      leaseMs: jobLeaseMs,
      run: async (signal) => {
        for (const id of await ids(dueQueries.overdue, [batch])) {
          if (signal.aborted) return;
          await moveDue(id, 'time_out');
        }
        for (const id of await ids(dueQueries.unreviewed, [batch])) {
          if (signal.aborted) return;
          await moveDue(id, 'accept');
        }
      },
    }),
    defineJob({
      name: 'task-saga',
      intervalMs: config.TASK_SAGA_INTERVAL_MS,
      leaseMs: jobLeaseMs,
      run: async (signal) => {
        for (const id of await ids(dueQueries.stalePending, [config.TASK_PENDING_RETRY_SECONDS, batch])) {
          if (signal.aborted) return;
          const task = await findTask(prismaSql(prisma), id);
          if (task?.status === 'pending')
            await saga.advance(task, `job-advance-${id}`).catch(() => undefined);
        }
        for (const id of await ids(dueQueries.unsettled, [batch])) {
          if (signal.aborted) return;
          await saga.settle(id, `job-settle-${id}`);
        }
      },
    }),
    defineJob({
      name: 'task-housekeeping',
      intervalMs: config.TASK_HOUSEKEEPING_INTERVAL_MS,
      run: (signal) => housekeeping(options.pool, options.logger, signal),
    }),
  ];
}

const outboxRetentionMs = 7 * 86_400_000;
const pruneBatchSize = 1_000;
const pruneBatchesMax = 20;

/** Deletes published outbox rows and processed event ids older than 7 days, in bounded batches. */
async function housekeeping(pool: pg.Pool, logger: Logger, signal: AbortSignal): Promise<void> {
  let outbox = 0;
  let processed = 0;
  for (let round = 0; round < pruneBatchesMax && !signal.aborted; round += 1) {
    const deleted = await prunePublishedOutbox(pool, {
      olderThanMs: outboxRetentionMs,
      batchSize: pruneBatchSize,
    });
    outbox += deleted;
    if (deleted < pruneBatchSize) break;
  }
  for (let round = 0; round < pruneBatchesMax && !signal.aborted; round += 1) {
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
