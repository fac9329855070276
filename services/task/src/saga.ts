import { existsSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { type NatsConnection, type PrincipalSigner, request, servicePrincipal } from '@zerostate/bus';
import { auctionEndpoints, paymentEndpoints } from '@zerostate/contracts';
import { inTransaction } from '@zerostate/database';
import { AppError, toAppError } from '@zerostate/errors';
import type { Logger } from '@zerostate/observability';
import type { TaskConfig } from './config.js';
import type { TaskPrisma } from './db/prisma.js';
import { prismaSql, type Sql } from './db/sql.js';
import {
  applyTransition,
  deletePendingTask,
  findTask,
  lockTask,
  markSettled,
  type TaskRecord,
} from './db/tasks.js';
import { allows } from './domain/lifecycle.js';
import type { TaskMetrics } from './metrics.js';

/** Where tests may kill the process (SIGKILL) once, to prove the saga resumes after a crash. */
export type CrashPoint = 'before-assign' | 'before-capture';

export interface SagaDependencies {
  nc: NatsConnection;
  signer: PrincipalSigner;
  prisma: TaskPrisma;
  logger: Logger;
  config: TaskConfig;
  metrics: TaskMetrics;
  kickOutbox(): void;
}

/** A user's DID as the payment service keys accounts. */
export const userDid = (userId: string) => `did:zerostate:user:${userId}`;

/**
 * The task saga's cross-service steps. Each is idempotent on the other side (escrow and auction
 * are keyed by the task id) and starts from what the task's row says is still owed, so running a
 * step twice, concurrently on two replicas, or again after a crash moves no money twice:
 *
 * - `advance`: a `pending` task's hold, then its auction, then `pending → auctioning`.
 * - `settle`: what a task that reached an outcome owes its escrow (capture or refund), and for a
 *   canceled task its auction's cancellation first; then `settled_at`.
 *
 * Handlers run a step right after the commit that made it due; the `task-saga` job runs every step
 * still due, so a crash, a timeout or a peer that was down only delays it.
 */
export function createSaga(dependencies: SagaDependencies) {
  const { nc, signer, prisma, logger, config, metrics } = dependencies;
  const asTask = (requestId: string) => ({ requestId, principal: servicePrincipal('task') });
  const call = { signer };

  /** In tests only: dies here once, as a crash would, when TASK_CRASH_DIR holds a file of this name. */
  const crashPoint = (point: CrashPoint) => {
    if (!config.TASK_CRASH_DIR) return;
    const marker = join(config.TASK_CRASH_DIR, point);
    if (!existsSync(marker)) return;
    unlinkSync(marker);
    logger.warn({ point }, 'crashing on purpose (TASK_CRASH_DIR)');
    process.kill(process.pid, 'SIGKILL');
  };

  const transact = <T>(work: (sql: Sql) => Promise<T>) =>
    inTransaction(prisma, (transaction) => work(prismaSql(transaction)));

  /**
   * Holds the budget (the requester's DID pays) and opens the auction, then moves the task to
   * `auctioning`. A refused hold (too little money, a closed account) removes the task, which
   * never held anything, and rethrows. Other failures leave it `pending` for the job.
   */
  async function advance(task: TaskRecord, requestId: string): Promise<TaskRecord> {
    try {
      await request(
        nc,
        paymentEndpoints.holdEscrow,
        { task_id: task.id, payer_did: task.requesterDid, amount: Number(task.budget) },
        asTask(requestId),
        call,
      );
    } catch (error) {
      const refused = toAppError(error);
      if (refused.code === 'INSUFFICIENT_FUNDS' || refused.code === 'ACCOUNT_CLOSED') {
        await transact((sql) => deletePendingTask(sql, task.id));
        metrics.holdRefused.inc();
      }
      throw refused;
    }
    const terms = task.auctionTerms;
    const auction = await request(
      nc,
      auctionEndpoints.openTaskAuction,
      {
        task_id: task.id,
        requester_id: task.requesterId,
        capabilities: task.capabilities,
        max_price: Number(task.budget),
        timeout_seconds: task.timeoutSeconds,
        ...(terms.type ? { type: terms.type } : {}),
        ...(terms.reserve_price !== undefined ? { reserve_price: terms.reserve_price } : {}),
        ...(terms.min_reputation !== undefined ? { min_reputation: terms.min_reputation } : {}),
        ...(terms.duration_seconds !== undefined ? { duration_seconds: terms.duration_seconds } : {}),
      },
      asTask(requestId),
      call,
    );
    const moved = await transact(async (sql) => {
      const current = await lockTask(sql, task.id);
      // An award or a cancellation may have got there first; either way there is nothing to do.
      if (!current || !allows(current.status, 'open')) return current;
      return applyTransition(sql, current, 'open', {
        actor: 'service:task',
        changes: { auctionId: auction.id },
      });
    });
    dependencies.kickOutbox();
    return moved ?? task;
  }

  /** Pays what the task is owed, if anything; errors are logged and left to the job. */
  async function settle(taskId: string, requestId: string): Promise<void> {
    const task = await findTask(prismaSql(prisma), taskId);
    if (!task?.settlement || task.settledAt) return;
    try {
      const paid =
        task.settlement === 'capture' ? await capture(task, requestId) : await refund(task, requestId);
      if (!paid) return;
      await transact((sql) => markSettled(sql, task.id, task.settlement!));
      metrics.settled.inc({ settlement: task.settlement, outcome: 'ok' });
    } catch (error) {
      metrics.settled.inc({ settlement: task.settlement, outcome: 'retry' });
      logger.warn({ err: error, task_id: task.id }, 'settlement failed; the saga job will retry');
    }
  }

  async function capture(task: TaskRecord, requestId: string): Promise<boolean> {
    crashPoint('before-capture');
    await request(
      nc,
      paymentEndpoints.captureEscrow,
      { task_id: task.id, payee_did: userDid(task.agentOwnerId!), amount: Number(task.cost) },
      asTask(requestId),
      call,
    );
    return true;
  }

  /**
   * Returns the whole hold. A canceled task's auction is canceled first (one that already closed
   * is fine: its award finds the task canceled and changes nothing). No escrow at all is settled
   * only once no hold can still land (a hold in flight when the task was canceled in `pending`).
   */
  async function refund(task: TaskRecord, requestId: string): Promise<boolean> {
    if (task.status === 'canceled') {
      await request(
        nc,
        auctionEndpoints.cancelTaskAuction,
        { task_id: task.id },
        asTask(requestId),
        call,
      ).catch((error: unknown) => {
        const code = toAppError(error).code;
        if (code !== 'NOT_FOUND' && code !== 'AUCTION_CLOSED') throw error;
      });
    }
    try {
      await request(nc, paymentEndpoints.refundEscrow, { task_id: task.id }, asTask(requestId), call);
      return true;
    } catch (error) {
      if (!(error instanceof AppError && error.code === 'NOT_FOUND')) throw error;
      const holdsCanStillLand =
        Date.now() - task.createdAt.getTime() < config.TASK_PENDING_RETRY_SECONDS * 2_000;
      return !holdsCanStillLand;
    }
  }

  return { advance, settle, crashPoint, transact };
}

export type Saga = ReturnType<typeof createSaga>;
