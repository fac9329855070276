import type { TaskCompleted, TaskFailed, TaskTimedOut } from '@zerostate/contracts';
import type { Evidence } from './scoring.js';

/**
 * What each event says about the agent (docs/REPUTATION.md "Per-outcome effects"). Every
 * function is pure: the consumer stores what it returns and the scores are computed from it.
 */

/** The outcome a task event records against its agent. */
export type OutcomeKind = 'completed' | 'failed' | 'timed_out';

export interface TaskOutcome {
  kind: OutcomeKind;
  taskId: string;
  agentId: string;
  agentOwnerId: string;
  evidence: Evidence;
}

/** speed = 1 − min(1, worked / timeout), worked = submitted − started (never negative). */
export function speedOf(startedAt: Date, submittedAt: Date, timeoutSeconds: number): number {
  const workedSeconds = Math.max(0, (submittedAt.getTime() - startedAt.getTime()) / 1000);
  return 1 - Math.min(1, workedSeconds / timeoutSeconds);
}

/** A completed task: reliability 1, speed from how long the agent worked, weighted by what was paid. */
export function completedOutcome(event: TaskCompleted): TaskOutcome {
  return {
    kind: 'completed',
    taskId: event.task_id,
    agentId: event.agent_id,
    agentOwnerId: event.agent_owner_id,
    evidence: {
      requesterId: event.requester_id,
      amountMicro: BigInt(event.cost),
      occurredAt: new Date(event.completed_at),
      selfDealt: event.requester_id === event.agent_owner_id,
      reliability: 1,
      quality: null,
      speed: speedOf(new Date(event.started_at), new Date(event.submitted_at), event.timeout_seconds),
    },
  };
}

/**
 * A failed task counts against its agent only when the agent caused it (it reported failure, or
 * an admin refunded a disputed result): reliability 0, weighted by the price it would have been paid.
 * No valid bid has no agent and says nothing about anyone.
 */
export function failedOutcome(event: TaskFailed): TaskOutcome | undefined {
  if (event.reason === 'no_valid_bid' || event.agent_id === null || event.agent_owner_id === null) {
    return undefined;
  }
  return {
    kind: 'failed',
    taskId: event.task_id,
    agentId: event.agent_id,
    agentOwnerId: event.agent_owner_id,
    evidence: {
      requesterId: event.requester_id,
      amountMicro: BigInt(event.cost ?? 0),
      occurredAt: new Date(event.failed_at),
      selfDealt: event.requester_id === event.agent_owner_id,
      reliability: 0,
      quality: null,
      speed: null,
    },
  };
}

/** A timed-out task: reliability 0 and speed 0, weighted by the price it would have been paid. */
export function timedOutOutcome(event: TaskTimedOut): TaskOutcome {
  return {
    kind: 'timed_out',
    taskId: event.task_id,
    agentId: event.agent_id,
    agentOwnerId: event.agent_owner_id,
    evidence: {
      requesterId: event.requester_id,
      amountMicro: BigInt(event.cost),
      occurredAt: new Date(event.timed_out_at),
      selfDealt: event.requester_id === event.agent_owner_id,
      reliability: 0,
      quality: null,
      speed: 0,
    },
  };
}

/** A rating of 1–5 is quality (rating − 1) / 4, weighted by what the requester paid for the task. */
export function ratingEvidence(rating: {
  requesterId: string;
  agentOwnerId: string;
  rating: number;
  costMicro: bigint;
  at: Date;
}): Evidence {
  return {
    requesterId: rating.requesterId,
    amountMicro: rating.costMicro,
    occurredAt: rating.at,
    selfDealt: rating.requesterId === rating.agentOwnerId,
    reliability: null,
    quality: (rating.rating - 1) / 4,
    speed: null,
  };
}
