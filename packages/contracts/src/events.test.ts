import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { auctionEvents } from './auction.js';
import { reputationEndpoints, reputationEvents } from './reputation.js';
import { taskEvents } from './task.js';

const completed = {
  task_id: randomUUID(),
  requester_id: randomUUID(),
  agent_id: randomUUID(),
  agent_owner_id: randomUUID(),
  capabilities: ['nlp.summarize'],
  budget: 5_000_000,
  timeout_seconds: 30,
  cost: 4_000_000,
  estimated_time_seconds: null,
  started_at: '2026-06-01T00:00:00.000Z',
  submitted_at: '2026-06-01T00:00:10.000Z',
  completed_at: '2026-06-01T00:05:00.000Z',
};

describe('event contracts reputation consumes', () => {
  it('when the subjects are read, then they follow evt.<service>.<entity>.<past-tense> in lowercase kebab', () => {
    const subjects = [
      ...Object.values(taskEvents),
      ...Object.values(auctionEvents),
      ...Object.values(reputationEvents),
    ].map((event) => event.subject);
    for (const subject of subjects) expect(subject).toMatch(/^evt(\.[a-z0-9]+(-[a-z0-9]+)*){3}$/);
    expect(taskEvents.timedOut.subject).toBe('evt.task.task.timed-out');
  });

  it('when a completed task carries money, then it must be a safe integer of micro-credits', () => {
    expect(taskEvents.completed.payload.safeParse(completed).success).toBe(true);
    for (const cost of [1.5, -1, Number.MAX_SAFE_INTEGER + 1, '4000000']) {
      expect(taskEvents.completed.payload.safeParse({ ...completed, cost }).success, String(cost)).toBe(
        false,
      );
    }
  });

  it('when a capability is malformed or there are too many, then the event is refused', () => {
    expect(taskEvents.completed.payload.safeParse({ ...completed, capabilities: ['Bad Cap'] }).success).toBe(
      false,
    );
    expect(
      taskEvents.completed.payload.safeParse({
        ...completed,
        capabilities: Array.from({ length: 33 }, (_, index) => `c${index}`),
      }).success,
    ).toBe(false);
  });

  it('when a failure has no agent, then only the no-valid-bid shape is needed', () => {
    const failed = taskEvents.failed.payload.safeParse({
      ...completed,
      agent_id: null,
      agent_owner_id: null,
      cost: null,
      reason: 'no_valid_bid',
      error: 'no valid bid',
      failed_at: '2026-06-01T00:01:00.000Z',
    });
    expect(failed.success).toBe(true);
  });

  it('when a rating is asked for, then it is an integer 1–5 with at most 1,000 characters of comment', () => {
    const request = reputationEndpoints.rate.request;
    expect(request.safeParse({ id: randomUUID(), rating: 5 }).success).toBe(true);
    expect(request.safeParse({ id: randomUUID(), rating: 4.5 }).success).toBe(false);
    expect(request.safeParse({ id: randomUUID(), rating: 0 }).success).toBe(false);
    expect(request.safeParse({ id: randomUUID(), rating: 3, comment: 'x'.repeat(1_001) }).success).toBe(
      false,
    );
    const upper = randomUUID().toUpperCase();
    expect(request.parse({ id: upper, rating: 3 }).id).toBe(upper.toLowerCase());
  });
});
