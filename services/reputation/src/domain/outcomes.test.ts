import { randomUUID } from 'node:crypto';
import type { TaskCompleted } from '@zerostate/contracts';
import { describe, expect, it } from 'vitest';
import { completedOutcome, failedOutcome, ratingEvidence, speedOf, timedOutOutcome } from './outcomes.js';

const base = {
  task_id: randomUUID(),
  requester_id: randomUUID(),
  agent_id: randomUUID(),
  agent_owner_id: randomUUID(),
  capabilities: ['nlp'],
  budget: 5_000_000,
  timeout_seconds: 100,
};
const completed: TaskCompleted = {
  ...base,
  cost: 4_000_000,
  estimated_time_seconds: 20,
  started_at: '2026-06-01T00:00:00.000Z',
  submitted_at: '2026-06-01T00:00:25.000Z',
  completed_at: '2026-06-01T01:00:00.000Z',
};

describe('per-outcome effects', () => {
  it('when a task completes, then reliability 1 and speed 1 − worked/timeout, weighted by the cost, dated at completion', () => {
    const outcome = completedOutcome(completed);
    expect(outcome.evidence).toMatchObject({
      amountMicro: 4_000_000n,
      reliability: 1,
      quality: null,
      speed: 0.75,
      selfDealt: false,
      occurredAt: new Date(completed.completed_at),
    });
    expect(speedOf(new Date(0), new Date(500_000), 100)).toBe(0);
    expect(speedOf(new Date(10_000), new Date(0), 100)).toBe(1);
  });

  it('when the requester owns the agent, then the evidence is marked self-dealt', () => {
    expect(completedOutcome({ ...completed, requester_id: base.agent_owner_id }).evidence.selfDealt).toBe(
      true,
    );
  });

  it("when a task fails by the agent's doing, then reliability 0; without an agent or without a valid bid, nothing", () => {
    const failed = {
      ...base,
      cost: 4_000_000,
      reason: 'agent_failed' as const,
      error: 'crashed',
      failed_at: '2026-06-01T00:01:00.000Z',
    };
    expect(failedOutcome(failed)?.evidence).toMatchObject({
      reliability: 0,
      speed: null,
      amountMicro: 4_000_000n,
    });
    expect(failedOutcome({ ...failed, reason: 'dispute_refunded' })?.kind).toBe('failed');
    expect(failedOutcome({ ...failed, reason: 'no_valid_bid' })).toBeUndefined();
    expect(failedOutcome({ ...failed, agent_id: null, agent_owner_id: null, cost: null })).toBeUndefined();
  });

  it('when a task times out, then reliability 0 and speed 0', () => {
    const outcome = timedOutOutcome({
      ...base,
      cost: 1_000_000,
      started_at: null,
      timeout_at: '2026-06-01T00:01:40.000Z',
      timed_out_at: '2026-06-01T00:01:41.000Z',
    });
    expect(outcome.evidence).toMatchObject({ reliability: 0, speed: 0, quality: null });
  });

  it('when a rating is given, then quality (rating − 1) / 4 weighted by the paid cost', () => {
    const evidence = ratingEvidence({
      requesterId: 'r',
      agentOwnerId: 'o',
      rating: 4,
      costMicro: 7n,
      at: new Date(0),
    });
    expect(evidence).toMatchObject({ quality: 0.75, reliability: null, speed: null, amountMicro: 7n });
  });
});
