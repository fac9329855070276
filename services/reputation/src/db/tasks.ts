import type { KnownTask } from '../domain/rating-rules.js';
import type { Sql } from './sql.js';

/**
 * Records an awarded task: who requested it and which agent won. An outcome event that arrived
 * first already knows more, so an award never overwrites a row.
 */
export async function recordAward(
  sql: Sql,
  task: { taskId: string; requesterId: string; agentId: string; agentOwnerId: string; priceMicro: bigint },
): Promise<void> {
  await sql.query(
    `INSERT INTO tasks (task_id, requester_id, agent_id, agent_owner_id, status, cost_micro)
     VALUES ($1, $2, $3, $4, 'awarded', $5) ON CONFLICT (task_id) DO NOTHING`,
    [task.taskId, task.requesterId, task.agentId, task.agentOwnerId, task.priceMicro.toString()],
  );
}

/** Records a task's outcome; the outcome events are terminal, so the newest one stands. */
export async function recordOutcome(
  sql: Sql,
  task: {
    taskId: string;
    requesterId: string;
    agentId: string | null;
    agentOwnerId: string | null;
    status: 'completed' | 'failed' | 'timed_out';
    costMicro: bigint | null;
  },
): Promise<void> {
  await sql.query(
    `INSERT INTO tasks (task_id, requester_id, agent_id, agent_owner_id, status, cost_micro)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (task_id) DO UPDATE SET
       requester_id = EXCLUDED.requester_id,
       agent_id = COALESCE(EXCLUDED.agent_id, tasks.agent_id),
       agent_owner_id = COALESCE(EXCLUDED.agent_owner_id, tasks.agent_owner_id),
       status = EXCLUDED.status,
       cost_micro = COALESCE(EXCLUDED.cost_micro, tasks.cost_micro),
       updated_at = now()`,
    [
      task.taskId,
      task.requesterId,
      task.agentId,
      task.agentOwnerId,
      task.status,
      task.costMicro?.toString() ?? null,
    ],
  );
}

/** The task, locked for the rest of the transaction (a rating decides on it). */
export async function lockTask(sql: Sql, taskId: string): Promise<KnownTask | undefined> {
  const { rows } = await sql.query<{
    task_id: string;
    requester_id: string;
    agent_id: string | null;
    agent_owner_id: string | null;
    status: KnownTask['status'];
    cost_micro: string | null;
  }>('SELECT * FROM tasks WHERE task_id = $1 FOR UPDATE', [taskId]);
  const row = rows[0];
  if (!row) return undefined;
  return {
    taskId: row.task_id,
    requesterId: row.requester_id,
    agentId: row.agent_id,
    agentOwnerId: row.agent_owner_id,
    status: row.status,
    costMicro: row.cost_micro === null ? null : BigInt(row.cost_micro),
  };
}
