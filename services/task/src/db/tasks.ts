import { type TaskStatus, taskEvents, taskLifecycleEvents } from '@zerostate/contracts';
import { enqueueEvent, uuidV7 } from '@zerostate/database';
import { requireTransition, type TaskAction } from '../domain/lifecycle.js';
import type { Sql } from './sql.js';

export type Settlement = 'capture' | 'refund';

/** The auction terms a requester may set on `POST /tasks` (`auction?`). */
export interface AuctionTerms {
  type?: 'first_price' | 'second_price' | 'reserve' | undefined;
  reserve_price?: number | undefined;
  min_reputation?: number | undefined;
  duration_seconds?: number | undefined;
}

export interface TaskRecord {
  id: string;
  requesterId: string;
  requesterDid: string;
  type: string;
  capabilities: string[];
  input: unknown;
  budget: bigint;
  timeoutSeconds: number;
  priority: 'low' | 'normal' | 'high' | 'critical';
  auctionTerms: AuctionTerms;
  status: TaskStatus;
  auctionId: string | null;
  assignedAgentId: string | null;
  agentOwnerId: string | null;
  cost: bigint | null;
  output: unknown;
  error: string | null;
  failureReason: string | null;
  settlement: Settlement | null;
  settledAt: Date | null;
  requestHash: string | null;
  createdAt: Date;
  assignedAt: Date | null;
  startedAt: Date | null;
  submittedAt: Date | null;
  completedAt: Date | null;
  timeoutAt: Date | null;
  reviewDeadline: Date | null;
}

type Row = Record<string, unknown>;
const bigintOrNull = (value: unknown) => (value === null ? null : BigInt(value as string));
const dateOrNull = (value: unknown) => (value === null ? null : new Date(value as string));

/** Reads a `tasks` row as either driver returns it (pg: BIGINT as text; Prisma: as bigint). */
function asTask(row: Row): TaskRecord {
  return {
    id: row.id as string,
    requesterId: row.requester_id as string,
    requesterDid: row.requester_did as string,
    type: row.type as string,
    capabilities: row.capabilities as string[],
    input: row.input,
    budget: BigInt(row.budget as string),
    timeoutSeconds: Number(row.timeout_seconds),
    priority: row.priority as TaskRecord['priority'],
    auctionTerms: (row.auction_terms ?? {}) as AuctionTerms,
    status: row.status as TaskStatus,
    auctionId: (row.auction_id as string | null) ?? null,
    assignedAgentId: (row.assigned_agent_id as string | null) ?? null,
    agentOwnerId: (row.agent_owner_id as string | null) ?? null,
    cost: bigintOrNull(row.cost),
    output: row.output ?? null,
    error: (row.error as string | null) ?? null,
    failureReason: (row.failure_reason as string | null) ?? null,
    settlement: (row.settlement as Settlement | null) ?? null,
    settledAt: dateOrNull(row.settled_at),
    requestHash: (row.request_hash as string | null) ?? null,
    createdAt: new Date(row.created_at as string),
    assignedAt: dateOrNull(row.assigned_at),
    startedAt: dateOrNull(row.started_at),
    submittedAt: dateOrNull(row.submitted_at),
    completedAt: dateOrNull(row.completed_at),
    timeoutAt: dateOrNull(row.timeout_at),
    reviewDeadline: dateOrNull(row.review_deadline),
  };
}

export interface NewTask {
  requesterId: string;
  requesterDid: string;
  type: string;
  capabilities: string[];
  input: unknown;
  budget: bigint;
  timeoutSeconds: number;
  priority: TaskRecord['priority'];
  auctionTerms: AuctionTerms;
  idempotencyKey: string | undefined;
  requestHash: string | undefined;
}

/**
 * Inserts a `pending` task, or finds the one an earlier request with the same Idempotency-Key
 * made (the unique index on (requester, key) makes concurrent duplicates meet one row).
 */
export async function insertTask(
  sql: Sql,
  task: NewTask,
): Promise<{ task: TaskRecord; created: true } | { task: TaskRecord; created: false }> {
  const [row] = await sql.query<Row>(
    `INSERT INTO tasks (id, requester_id, requester_did, type, capabilities, input, budget, timeout_seconds,
                        priority, auction_terms, idempotency_key, request_hash)
     VALUES ($1::uuid, $2::uuid, $3, $4, $5::text[], $6::jsonb, $7::bigint, $8::int, $9, $10::jsonb, $11, $12)
     ON CONFLICT (requester_id, idempotency_key) DO NOTHING
     RETURNING *`,
    [
      uuidV7(),
      task.requesterId,
      task.requesterDid,
      task.type,
      task.capabilities,
      JSON.stringify(task.input),
      task.budget.toString(),
      task.timeoutSeconds,
      task.priority,
      JSON.stringify(task.auctionTerms),
      task.idempotencyKey ?? null,
      task.requestHash ?? null,
    ],
  );
  if (row) return { task: asTask(row), created: true };
  const [earlier] = await sql.query<Row>(
    'SELECT * FROM tasks WHERE requester_id = $1::uuid AND idempotency_key = $2',
    [task.requesterId, task.idempotencyKey],
  );
  return { task: asTask(earlier!), created: false };
}

export async function findTask(sql: Sql, id: string): Promise<TaskRecord | undefined> {
  const [row] = await sql.query<Row>('SELECT * FROM tasks WHERE id = $1::uuid', [id]);
  return row ? asTask(row) : undefined;
}

/** The task, locked for the rest of the transaction; `skipLocked` gives up instead of waiting. */
export async function lockTask(
  sql: Sql,
  id: string,
  options: { skipLocked?: boolean } = {},
): Promise<TaskRecord | undefined> {
  const [row] = await sql.query<Row>(
    `SELECT * FROM tasks WHERE id = $1::uuid FOR UPDATE${options.skipLocked ? ' SKIP LOCKED' : ''}`,
    [id],
  );
  return row ? asTask(row) : undefined;
}

/**
 * Removes a task that never held money (its hold was refused): it has no history yet, and the
 * foreign key from `task_transitions` refuses to remove one that has.
 */
export async function deletePendingTask(sql: Sql, id: string): Promise<void> {
  await sql.query(`DELETE FROM tasks WHERE id = $1::uuid AND status = 'pending' RETURNING id`, [id]);
}

/** The columns a transition may set beside its status (null clears). */
export interface TaskChanges {
  auctionId?: string;
  assignedAgentId?: string;
  agentOwnerId?: string;
  cost?: bigint;
  output?: unknown;
  error?: string;
  failureReason?: string;
  assignedAt?: Date;
  startedAt?: Date;
  submittedAt?: Date;
  completedAt?: Date;
  timeoutAt?: Date;
  reviewDeadline?: Date;
}

const changeColumns: Record<keyof TaskChanges, { column: string; cast: string }> = {
  auctionId: { column: 'auction_id', cast: 'uuid' },
  assignedAgentId: { column: 'assigned_agent_id', cast: 'uuid' },
  agentOwnerId: { column: 'agent_owner_id', cast: 'uuid' },
  cost: { column: 'cost', cast: 'bigint' },
  output: { column: 'output', cast: 'jsonb' },
  error: { column: 'error', cast: 'text' },
  failureReason: { column: 'failure_reason', cast: 'text' },
  assignedAt: { column: 'assigned_at', cast: 'timestamptz' },
  startedAt: { column: 'started_at', cast: 'timestamptz' },
  submittedAt: { column: 'submitted_at', cast: 'timestamptz' },
  completedAt: { column: 'completed_at', cast: 'timestamptz' },
  timeoutAt: { column: 'timeout_at', cast: 'timestamptz' },
  reviewDeadline: { column: 'review_deadline', cast: 'timestamptz' },
};

function sqlValue(key: keyof TaskChanges, value: unknown): unknown {
  if (key === 'output') return JSON.stringify(value);
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Date) return value.toISOString();
  return value;
}

/**
 * Moves a locked task by `action` (INVALID_TASK_STATE when the table does not allow it from its
 * status): the row, one history row, the status notice and, for an outcome, the event
 * reputation consumes — all in the caller's transaction. A move that ends in a settlement marks
 * it owed (`settled_at` null); the saga pays it after commit.
 */
export async function applyTransition(
  sql: Sql,
  task: TaskRecord,
  action: TaskAction,
  options: { actor: string; changes?: TaskChanges; detail?: Record<string, unknown>; at?: Date },
): Promise<TaskRecord> {
  const move = requireTransition(task.status, action);
  const at = options.at ?? new Date();
  const entries = Object.entries(options.changes ?? {}).filter(([, value]) => value !== undefined) as [
    keyof TaskChanges,
    unknown,
  ][];
  const values: unknown[] = [task.id, task.status, move.to, move.settlement, at.toISOString()];
  const sets = entries.map(([key, value]) => {
    values.push(sqlValue(key, value));
    const { column, cast } = changeColumns[key];
    return `${column} = $${values.length}::${cast}`;
  });
  // The status guard repeats what the lock already ensures: a stale read can never move a task twice.
  const [row] = await sql.query<Row>(
    `UPDATE tasks SET status = $3, updated_at = $5::timestamptz,
       settlement = COALESCE($4::text, settlement),
       settled_at = CASE WHEN $4::text IS NULL THEN settled_at ELSE NULL END
       ${sets.length > 0 ? `, ${sets.join(', ')}` : ''}
     WHERE id = $1::uuid AND status = $2
     RETURNING *`,
    values,
  );
  if (!row) throw new Error(`task ${task.id} moved under its lock`);
  const moved = asTask(row);
  await sql.query(
    `INSERT INTO task_transitions (id, task_id, from_status, to_status, action, actor, detail, at)
     VALUES ($1::uuid, $2::uuid, $3, $4, $5, $6, $7::jsonb, $8::timestamptz)`,
    [
      uuidV7(),
      task.id,
      task.status,
      move.to,
      action,
      options.actor,
      JSON.stringify(options.detail ?? {}),
      at.toISOString(),
    ],
  );
  await enqueueEvent(sql.writer, taskLifecycleEvents.statusChanged, {
    task_id: moved.id,
    status: moved.status,
    at: at.toISOString(),
  });
  await enqueueOutcome(sql, moved, at);
  return moved;
}

/** The event an outcome is for reputation (and anyone else): completed, failed, timed out, canceled. */
async function enqueueOutcome(sql: Sql, task: TaskRecord, at: Date): Promise<void> {
  const parties = {
    task_id: task.id,
    requester_id: task.requesterId,
    capabilities: task.capabilities,
    budget: Number(task.budget),
    timeout_seconds: task.timeoutSeconds,
  };
  const agent = { agent_id: task.assignedAgentId, agent_owner_id: task.agentOwnerId };
  const cost = task.cost === null ? null : Number(task.cost);
  switch (task.status) {
    case 'completed':
      await enqueueEvent(sql.writer, taskEvents.completed, {
        ...parties,
        agent_id: task.assignedAgentId!,
        agent_owner_id: task.agentOwnerId!,
        cost: cost!,
        estimated_time_seconds: null,
        started_at: task.startedAt!.toISOString(),
        submitted_at: task.submittedAt!.toISOString(),
        completed_at: at.toISOString(),
      });
      return;
    case 'failed':
      await enqueueEvent(sql.writer, taskEvents.failed, {
        ...parties,
        ...agent,
        cost,
        reason: task.failureReason as 'no_valid_bid' | 'agent_failed' | 'dispute_refunded',
        error: task.error!,
        failed_at: at.toISOString(),
      });
      return;
    case 'timed_out':
      await enqueueEvent(sql.writer, taskEvents.timedOut, {
        ...parties,
        agent_id: task.assignedAgentId!,
        agent_owner_id: task.agentOwnerId!,
        cost: cost!,
        started_at: task.startedAt?.toISOString() ?? null,
        timeout_at: task.timeoutAt!.toISOString(),
        timed_out_at: at.toISOString(),
      });
      return;
    case 'canceled':
      await enqueueEvent(sql.writer, taskLifecycleEvents.canceled, {
        ...parties,
        agent_id: task.assignedAgentId,
        canceled_at: at.toISOString(),
      });
      return;
    default:
  }
}

/** Records that the saga paid what the task was owed; false when another replica already did. */
export async function markSettled(sql: Sql, id: string, settlement: Settlement): Promise<boolean> {
  const rows = await sql.query(
    `UPDATE tasks SET settled_at = now() WHERE id = $1::uuid AND settlement = $2 AND settled_at IS NULL
     RETURNING id`,
    [id, settlement],
  );
  return rows.length > 0;
}

/** Ids of tasks the periodic jobs must look at, oldest first, at most `limit`. */
export const dueQueries = {
  /** Still `pending` well after creation: the request that made it died before the auction opened. */
  stalePending: `SELECT id::text FROM tasks WHERE status = 'pending' AND created_at < now() - $1::int * interval '1 second'
                 ORDER BY created_at LIMIT $2`,
  /** A settlement owed and not yet paid. */
  unsettled: `SELECT id::text FROM tasks WHERE settlement IS NOT NULL AND settled_at IS NULL
              ORDER BY updated_at LIMIT $1`,
  /** Assigned or running past `timeout_at`. */
  overdue: `SELECT id::text FROM tasks WHERE status IN ('assigned', 'running') AND timeout_at <= now()
            ORDER BY timeout_at LIMIT $1`,
  /** Submitted and nobody reviewed it within the acceptance window. */
  unreviewed: `SELECT id::text FROM tasks WHERE status = 'submitted' AND review_deadline <= now()
               ORDER BY review_deadline LIMIT $1`,
} as const;

export interface TaskPage {
  requesterId?: string;
  agentOwnerId?: string;
  assignedAgentId?: string;
  statuses?: TaskStatus[];
  beforeId?: string;
  afterId?: string;
  limit: number;
}

/** One page of tasks (limit + 1 rows, so the caller knows whether another page follows). */
export async function listTasks(sql: Sql, page: TaskPage): Promise<TaskRecord[]> {
  const where: string[] = [];
  const values: unknown[] = [];
  const add = (clause: (placeholder: string) => string, value: unknown) => {
    values.push(value);
    where.push(clause(`$${values.length}`));
  };
  if (page.requesterId) add((p) => `requester_id = ${p}::uuid`, page.requesterId);
  if (page.agentOwnerId) add((p) => `agent_owner_id = ${p}::uuid`, page.agentOwnerId);
  if (page.assignedAgentId) add((p) => `assigned_agent_id = ${p}::uuid`, page.assignedAgentId);
  if (page.statuses) add((p) => `status = ANY(${p}::text[])`, page.statuses);
  if (page.beforeId) add((p) => `id < ${p}::uuid`, page.beforeId);
  if (page.afterId) add((p) => `id > ${p}::uuid`, page.afterId);
  values.push(page.limit + 1);
  const order = page.afterId !== undefined || page.assignedAgentId ? 'ASC' : 'DESC';
  const rows = await sql.query<Row>(
    `SELECT * FROM tasks ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
     ORDER BY id ${order} LIMIT $${values.length}`,
    values,
  );
  return rows.map(asTask);
}
