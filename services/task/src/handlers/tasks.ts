import { createHash } from 'node:crypto';
import { endpoint, type HandlerContext, type Registration } from '@zerostate/bus';
import {
  hasRole,
  hasScope,
  type Principal,
  type Scope,
  type TaskView,
  taskEndpoints,
} from '@zerostate/contracts';
import { AppError } from '@zerostate/errors';
import type { TaskConfig } from '../config.js';
import type { TaskPrisma } from '../db/prisma.js';
import { prismaSql } from '../db/sql.js';
import {
  applyTransition,
  findTask,
  insertTask,
  listTasks,
  lockTask,
  type TaskChanges,
  type TaskRecord,
} from '../db/tasks.js';
import type { TaskAction } from '../domain/lifecycle.js';
import type { TaskMetrics } from '../metrics.js';
import type { Saga } from '../saga.js';

export interface TaskDependencies {
  prisma: TaskPrisma;
  saga: Saga;
  config: TaskConfig;
  metrics: TaskMetrics;
  kickOutbox(): void;
}

const iso = (date: Date | null) => date?.toISOString() ?? null;

/** A task as its readers see it (SPEC §5b). */
export function encodeTask(task: TaskRecord): TaskView {
  return {
    id: task.id,
    requester_id: task.requesterId,
    type: task.type,
    capabilities: task.capabilities,
    input: task.input as TaskView['input'],
    budget: Number(task.budget),
    timeout_seconds: task.timeoutSeconds,
    priority: task.priority,
    status: task.status,
    auction_id: task.auctionId,
    assigned_agent_id: task.assignedAgentId,
    cost: task.cost === null ? null : Number(task.cost),
    output: (task.output ?? null) as TaskView['output'],
    error: task.error,
    created_at: task.createdAt.toISOString(),
    assigned_at: iso(task.assignedAt),
    started_at: iso(task.startedAt),
    submitted_at: iso(task.submittedAt),
    completed_at: iso(task.completedAt),
    timeout_at: iso(task.timeoutAt),
  };
}

function requireUser(principal: Principal | undefined, scope: Scope): Principal {
  if (!principal || principal.kind === 'service') throw new AppError('UNAUTHENTICATED');
  if (!hasScope(principal, scope)) {
    throw new AppError('INSUFFICIENT_SCOPE', undefined, { details: { required_scope: scope } });
  }
  return principal;
}

const isAdmin = (caller: Principal) => hasRole(caller, 'admin') || caller.is_system;

/** Who may read a task: its requester, the assigned agent's owner, admins. */
function canSee(task: TaskRecord, caller: Principal): boolean {
  return task.requesterId === caller.user_id || task.agentOwnerId === caller.user_id || isAdmin(caller);
}

type Party = 'requester' | 'agent_owner' | 'admin';

function isParty(task: TaskRecord, caller: Principal, party: Party): boolean {
  if (party === 'requester') return task.requesterId === caller.user_id;
  if (party === 'agent_owner') return task.agentOwnerId !== null && task.agentOwnerId === caller.user_id;
  return caller.kind === 'user' && isAdmin(caller);
}

const requestHashOf = (input: unknown) => createHash('sha256').update(JSON.stringify(input)).digest('hex');

/** create, list, get, assignments, and every transition a person makes. */
export function taskRegistrations(dependencies: TaskDependencies): Registration[] {
  const { prisma, saga, config, metrics } = dependencies;

  /**
   * One transition by a caller: the task locked, visible to the caller (else NOT_FOUND), the
   * caller the party the action needs (else FORBIDDEN), the move the table allows (else
   * INVALID_TASK_STATE); after commit the saga pays what the move made due.
   */
  async function transitionBy(
    context: HandlerContext,
    id: string,
    action: TaskAction,
    party: Party,
    changes: (task: TaskRecord, at: Date) => TaskChanges & { detail?: Record<string, unknown> } = () => ({}),
  ): Promise<TaskView> {
    const caller = requireUser(context.principal, 'tasks:write');
    const moved = await saga.transact(async (sql) => {
      const task = await lockTask(sql, id);
      if (!task || !canSee(task, caller)) throw new AppError('NOT_FOUND');
      if (!isParty(task, caller, party)) throw new AppError('FORBIDDEN');
      const at = new Date();
      const { detail, ...columns } = changes(task, at);
      return applyTransition(sql, task, action, {
        actor: caller.did,
        changes: columns,
        at,
        ...(detail ? { detail } : {}),
      });
    });
    metrics.transitions.inc({ action, status: moved.status });
    dependencies.kickOutbox();
    if (moved.settlement && !moved.settledAt) await saga.settle(moved.id, context.requestId);
    return encodeTask((await findTask(prismaSql(prisma), moved.id)) ?? moved);
  }

  const create = endpoint(taskEndpoints.create, async (input, context) => {
    const caller = requireUser(context.principal, 'tasks:write');
    const key = context.idempotencyKey;
    const requestHash = key ? requestHashOf(input) : undefined;
    const inserted = await saga.transact((sql) =>
      insertTask(sql, {
        requesterId: caller.user_id,
        requesterDid: caller.did,
        type: input.type,
        capabilities: input.capabilities,
        input: input.input,
        budget: BigInt(input.budget),
        timeoutSeconds: input.timeout_seconds,
        priority: input.priority,
        auctionTerms: input.auction ?? {},
        idempotencyKey: key,
        requestHash,
      }),
    );
    if (!inserted.created) {
      // The same Idempotency-Key again: the same body answers the same task as it stands now.
      if (inserted.task.requestHash !== requestHash) throw new AppError('IDEMPOTENCY_KEY_REUSED');
      if (inserted.task.status === 'pending') throw new AppError('IDEMPOTENCY_REQUEST_IN_PROGRESS');
      return encodeTask(inserted.task);
    }
    const advanced = await saga.advance(inserted.task, context.requestId).catch((error: unknown) => {
      // A refused hold removed the task and is the answer; anything else leaves the task pending
      // (its hold or auction will be retried by the saga job) and the client gets it with 202.
      const code = (error as { code?: unknown }).code;
      if (code === 'INSUFFICIENT_FUNDS' || code === 'ACCOUNT_CLOSED') throw error;
      context.logger.warn(
        { err: error, task_id: inserted.task.id },
        'task left pending; the saga job will advance it',
      );
      return inserted.task;
    });
    metrics.transitions.inc({ action: 'create', status: advanced.status });
    return encodeTask(advanced);
  });

  const list = endpoint(taskEndpoints.list, async (input, context) => {
    const caller = requireUser(context.principal, 'tasks:read');
    const beforeId = cursorOf(input.cursor);
    const rows = await listTasks(prismaSql(prisma), {
      ...(input.role === 'agent' ? { agentOwnerId: caller.user_id } : { requesterId: caller.user_id }),
      ...(input.status ? { statuses: [input.status] } : {}),
      ...(beforeId ? { beforeId } : {}),
      limit: input.limit,
    });
    return pageOfTasks(rows, input.limit);
  });

  const get = endpoint(taskEndpoints.get, async (input, context) => {
    const caller = requireUser(context.principal, 'tasks:read');
    const task = await findTask(prismaSql(prisma), input.id);
    if (!task || !canSee(task, caller)) throw new AppError('NOT_FOUND');
    return encodeTask(task);
  });

  const assignments = endpoint(taskEndpoints.assignments, async (input, context) => {
    const caller = requireUser(context.principal, 'tasks:read');
    const afterId = cursorOf(input.cursor);
    const rows = await listTasks(prismaSql(prisma), {
      assignedAgentId: input.agent_id,
      agentOwnerId: caller.user_id,
      statuses: ['assigned', 'running'],
      ...(afterId ? { afterId } : {}),
      limit: input.limit,
    });
    return pageOfTasks(rows, input.limit);
  });

  const cancel = endpoint(taskEndpoints.cancel, (input, context) =>
    transitionBy(context, input.id, 'cancel', 'requester'),
  );
  const accept = endpoint(taskEndpoints.accept, (input, context) =>
    transitionBy(context, input.id, 'accept', 'requester', (_task, at) => ({ completedAt: at })),
  );
  const reject = endpoint(taskEndpoints.reject, (input, context) =>
    transitionBy(context, input.id, 'reject', 'requester', () => ({
      error: input.reason,
      detail: { reason: input.reason },
    })),
  );
  const start = endpoint(taskEndpoints.start, (input, context) =>
    transitionBy(context, input.id, 'start', 'agent_owner', (_task, at) => ({ startedAt: at })),
  );
  const submit = endpoint(taskEndpoints.submitResult, (input, context) =>
    transitionBy(context, input.id, 'submit', 'agent_owner', (_task, at) => ({
      output: input.output,
      submittedAt: at,
      reviewDeadline: new Date(at.getTime() + config.TASK_ACCEPTANCE_WINDOW_SECONDS * 1000),
    })),
  );
  const fail = endpoint(taskEndpoints.fail, (input, context) =>
    transitionBy(context, input.id, 'fail', 'agent_owner', () => ({
      error: input.error,
      failureReason: 'agent_failed',
    })),
  );
  const resolve = endpoint(taskEndpoints.resolve, (input, context) =>
    input.outcome === 'pay_agent'
      ? transitionBy(context, input.id, 'resolve_pay', 'admin', (_task, at) => ({ completedAt: at }))
      : transitionBy(context, input.id, 'resolve_refund', 'admin', (task) => ({
          error:
            `Refunded by an admin after the requester rejected the result: ${task.error ?? 'no reason given'}`.slice(
              0,
              2_000,
            ),
          failureReason: 'dispute_refunded',
        })),
  );

  return [create, list, get, assignments, cancel, accept, reject, start, submit, fail, resolve];
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A cursor is the last task id of the previous page. */
function cursorOf(cursor: string | undefined): string | undefined {
  if (cursor === undefined) return undefined;
  if (!uuidPattern.test(cursor)) {
    throw new AppError('VALIDATION_FAILED', 'The cursor is not valid.', { details: [{ path: 'cursor' }] });
  }
  return cursor;
}

function pageOfTasks(rows: TaskRecord[], limit: number) {
  const page = rows.slice(0, limit);
  return {
    items: page.map(encodeTask),
    next_cursor: rows.length > limit ? (page.at(-1)?.id ?? null) : null,
  };
}
