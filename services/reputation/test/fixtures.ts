import { randomUUID } from 'node:crypto';
import {
  type AgentProfile,
  type AuctionAwarded,
  auctionEvents,
  type TaskCompleted,
  type TaskFailed,
  type TaskTimedOut,
  taskEvents,
} from '@zerostate/contracts';
import type { Harness } from './harness.js';

/** An agent and its owner, as the auction service would announce them. */
export interface TestAgent {
  agentId: string;
  ownerId: string;
  capabilities: string[];
}

export function newAgent(capabilities: string[] = ['nlp']): TestAgent {
  return { agentId: randomUUID(), ownerId: randomUUID(), capabilities };
}

export function profileOf(agent: TestAgent, at: Date, overrides: Partial<AgentProfile> = {}): AgentProfile {
  return {
    agent_id: agent.agentId,
    owner_id: agent.ownerId,
    capabilities: agent.capabilities,
    status: 'online',
    updated_at: at.toISOString(),
    ...overrides,
  };
}

/** A completed task: started an hour before `at`, worked `workedSeconds` of a 100 s timeout. */
export function completedTask(
  agent: TestAgent,
  at: Date,
  options: { requesterId?: string; cost?: number; workedSeconds?: number; taskId?: string } = {},
): TaskCompleted {
  const started = new Date(at.getTime() - 3_600_000);
  return {
    task_id: options.taskId ?? randomUUID(),
    requester_id: options.requesterId ?? randomUUID(),
    agent_id: agent.agentId,
    agent_owner_id: agent.ownerId,
    capabilities: agent.capabilities,
    budget: (options.cost ?? 10_000_000) * 2,
    timeout_seconds: 100,
    cost: options.cost ?? 10_000_000,
    estimated_time_seconds: 30,
    started_at: started.toISOString(),
    submitted_at: new Date(started.getTime() + (options.workedSeconds ?? 25) * 1000).toISOString(),
    completed_at: at.toISOString(),
  };
}

export function failedTask(agent: TestAgent, at: Date, overrides: Partial<TaskFailed> = {}): TaskFailed {
  return {
    task_id: randomUUID(),
    requester_id: randomUUID(),
    agent_id: agent.agentId,
    agent_owner_id: agent.ownerId,
    capabilities: agent.capabilities,
    budget: 20_000_000,
    timeout_seconds: 100,
    cost: 10_000_000,
    reason: 'agent_failed',
    error: 'the agent reported a failure',
    failed_at: at.toISOString(),
    ...overrides,
  };
}

export function timedOutTask(agent: TestAgent, at: Date): TaskTimedOut {
  return {
    task_id: randomUUID(),
    requester_id: randomUUID(),
    agent_id: agent.agentId,
    agent_owner_id: agent.ownerId,
    capabilities: agent.capabilities,
    budget: 20_000_000,
    timeout_seconds: 100,
    cost: 10_000_000,
    started_at: new Date(at.getTime() - 100_000).toISOString(),
    timeout_at: at.toISOString(),
    timed_out_at: at.toISOString(),
  };
}

export function awardOf(
  task: { task_id: string; requester_id: string },
  agent: TestAgent,
  at: Date,
): AuctionAwarded {
  return {
    auction_id: randomUUID(),
    task_id: task.task_id,
    requester_id: task.requester_id,
    winner_agent_id: agent.agentId,
    winner_owner_id: agent.ownerId,
    winner_bid_id: randomUUID(),
    price: 10_000_000,
    rule: 'second_price',
    capabilities: agent.capabilities,
    awarded_at: at.toISOString(),
  };
}

/** Publishes a completed task (with its award first) and waits until both are applied. */
export async function completeTask(
  harness: Harness,
  agent: TestAgent,
  options: Parameters<typeof completedTask>[2] = {},
): Promise<TaskCompleted> {
  const task = completedTask(agent, harness.clock.now(), options);
  await harness.publish(auctionEvents.awarded, awardOf(task, agent, harness.clock.now()));
  await harness.publish(taskEvents.completed, task);
  await waitForRows(harness, 'SELECT 1 FROM score_events WHERE task_id = $1', [task.task_id]);
  return task;
}

/** Polls until `sql` returns a row: what a consumer committed. */
export async function waitForRows(harness: Harness, sql: string, parameters: unknown[]): Promise<void> {
  const { waitUntil } = await import('@zerostate/testkit');
  await waitUntil(sql, async () => ((await harness.db.query(sql, parameters)).rowCount ?? 0) > 0);
}
