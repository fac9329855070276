import { randomUUID } from 'node:crypto';
import { auctionEvents, reputationEndpoints, reputationEvents, taskEvents } from '@zerostate/contracts';
import { metricValue } from '@zerostate/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awardOf, completedTask, completeTask, failedTask, newAgent, waitForRows } from './fixtures.js';
import { type Harness, startHarness, userPrincipal } from './harness.js';

describe('rating a task', () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await startHarness({ name: 'reputation_rating' });
  });
  afterAll(async () => harness?.stop());

  it('when the paying requester rates a completed task, then 201 with the rating, the quality rises and the events are enqueued', async () => {
    const requester = userPrincipal();
    const agent = newAgent();
    const task = await completeTask(harness, agent, { requesterId: requester.user_id });
    const before = await harness.call(reputationEndpoints.get, { agent_id: agent.agentId });

    const rating = await harness.call(
      reputationEndpoints.rate,
      { id: task.task_id, rating: 5, comment: 'great' },
      requester,
    );
    expect(rating).toEqual({
      task_id: task.task_id,
      agent_id: agent.agentId,
      requester_id: requester.user_id,
      rating: 5,
      comment: 'great',
      created_at: harness.clock.now().toISOString(),
    });
    const after = await harness.call(reputationEndpoints.get, { agent_id: agent.agentId });
    expect(after.quality).toBeGreaterThan(before.quality);
    expect(after.quality).toBe(54.55); // 100 × (5 + 1) / 11
    expect(after.ratings).toEqual({ count: 1, average: 5 });
    const { rows } = await harness.db.query(
      `SELECT subject FROM outbox WHERE payload->>'agent_id' = $1 AND subject IN ($2, $3) ORDER BY subject`,
      [agent.agentId, reputationEvents.ratingGiven.subject, reputationEvents.scoreUpdated.subject],
    );
    expect(rows.map((row) => row.subject)).toContain(reputationEvents.ratingGiven.subject);
    expect(await metricValue(harness.registry, 'reputation_ratings_total')).toBe(1);
  });

  it('when anyone but the requester rates, or the task is unknown or not completed, then the §5b codes', async () => {
    const requester = userPrincipal();
    const agent = newAgent();
    const task = await completeTask(harness, agent, { requesterId: requester.user_id });
    const owner = userPrincipal({ id: agent.ownerId });
    expect(await harness.failure(reputationEndpoints.rate, { id: task.task_id, rating: 5 }, owner)).toBe(
      'RATING_NOT_ALLOWED',
    );
    expect(
      await harness.failure(reputationEndpoints.rate, { id: task.task_id, rating: 5 }, userPrincipal()),
    ).toBe('NOT_FOUND');
    expect(await harness.failure(reputationEndpoints.rate, { id: randomUUID(), rating: 5 }, requester)).toBe(
      'NOT_FOUND',
    );
    expect(await harness.failure(reputationEndpoints.rate, { id: task.task_id, rating: 5 })).toBe(
      'UNAUTHENTICATED',
    );
    const readOnlyKey = userPrincipal({ id: requester.user_id, scopes: ['reputation:read'] });
    expect(
      await harness.failure(reputationEndpoints.rate, { id: task.task_id, rating: 5 }, readOnlyKey),
    ).toBe('INSUFFICIENT_SCOPE');
    expect(await harness.failure(reputationEndpoints.rate, { id: task.task_id, rating: 6 }, requester)).toBe(
      'VALIDATION_FAILED',
    );

    // Awarded but not completed, and failed: the requester may not rate yet / at all.
    const pending = completedTask(agent, harness.clock.now(), { requesterId: requester.user_id });
    await harness.publish(auctionEvents.awarded, awardOf(pending, agent, harness.clock.now()));
    await waitForRows(harness, 'SELECT 1 FROM tasks WHERE task_id = $1', [pending.task_id]);
    expect(
      await harness.failure(reputationEndpoints.rate, { id: pending.task_id, rating: 4 }, requester),
    ).toBe('RATING_NOT_ALLOWED');
    const failed = failedTask(agent, harness.clock.now(), { requester_id: requester.user_id });
    await harness.publish(taskEvents.failed, failed);
    await waitForRows(harness, 'SELECT 1 FROM tasks WHERE task_id = $1', [failed.task_id]);
    expect(
      await harness.failure(reputationEndpoints.rate, { id: failed.task_id, rating: 1 }, requester),
    ).toBe('RATING_NOT_ALLOWED');
    const { rows } = await harness.db.query('SELECT count(*)::int AS n FROM ratings WHERE agent_id = $1', [
      agent.agentId,
    ]);
    expect(rows[0].n).toBe(0);
  });

  it('when the requester rates a second time, then RATING_EXISTS and the first rating stands', async () => {
    const requester = userPrincipal();
    const agent = newAgent();
    const task = await completeTask(harness, agent, { requesterId: requester.user_id });
    await harness.call(reputationEndpoints.rate, { id: task.task_id, rating: 2 }, requester);
    expect(await harness.failure(reputationEndpoints.rate, { id: task.task_id, rating: 5 }, requester)).toBe(
      'RATING_EXISTS',
    );
    const view = await harness.call(reputationEndpoints.get, { agent_id: agent.agentId });
    expect(view.ratings).toEqual({ count: 1, average: 2 });
  });

  it('when a rating is repeated with its Idempotency-Key, then the first answer is replayed; another body with the key is refused', async () => {
    const requester = userPrincipal();
    const agent = newAgent();
    const task = await completeTask(harness, agent, { requesterId: requester.user_id });
    const key = `rating-${randomUUID()}`;
    const first = await harness.call(reputationEndpoints.rate, { id: task.task_id, rating: 4 }, requester, {
      idempotencyKey: key,
    });
    const replay = await harness.call(reputationEndpoints.rate, { id: task.task_id, rating: 4 }, requester, {
      idempotencyKey: key,
    });
    expect(replay).toEqual(first);
    expect(
      await harness.failure(reputationEndpoints.rate, { id: task.task_id, rating: 3 }, requester, {
        idempotencyKey: key,
      }),
    ).toBe('IDEMPOTENCY_KEY_REUSED');
    const view = await harness.call(reputationEndpoints.get, { agent_id: agent.agentId });
    expect(view.ratings.count).toBe(1);
  });

  it('when a rating with the same Idempotency-Key is still in flight, then IDEMPOTENCY_REQUEST_IN_PROGRESS and nothing is stored', async () => {
    const requester = userPrincipal();
    const agent = newAgent();
    const task = await completeTask(harness, agent, { requesterId: requester.user_id });
    const key = `rating-${randomUUID()}`;
    // The first request's transaction holds this lock until it commits; hold it the same way.
    const holder = await harness.db.connect();
    try {
      await holder.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [
        `rating\n${requester.user_id}\n${key}`,
      ]);
      expect(
        await harness.failure(reputationEndpoints.rate, { id: task.task_id, rating: 5 }, requester, {
          idempotencyKey: key,
        }),
      ).toBe('IDEMPOTENCY_REQUEST_IN_PROGRESS');
    } finally {
      await holder.query('SELECT pg_advisory_unlock_all()');
      holder.release();
    }
    const { rows } = await harness.db.query('SELECT count(*)::int AS n FROM ratings WHERE task_id = $1', [
      task.task_id,
    ]);
    expect(rows[0].n).toBe(0);
    const rated = await harness.call(reputationEndpoints.rate, { id: task.task_id, rating: 5 }, requester, {
      idempotencyKey: key,
    });
    expect(rated.rating).toBe(5);
  });

  it('when one rating is on a large task and many are on tiny tasks of one requester, then the large one moves quality more', async () => {
    const bigSpender = userPrincipal();
    const spammer = userPrincipal();
    const honest = newAgent();
    const gamed = newAgent();
    const large = await completeTask(harness, honest, { requesterId: bigSpender.user_id, cost: 10_000_000 });
    await harness.call(reputationEndpoints.rate, { id: large.task_id, rating: 5 }, bigSpender);
    for (let index = 0; index < 8; index += 1) {
      const tiny = await completeTask(harness, gamed, { requesterId: spammer.user_id, cost: 10_000 });
      await harness.call(reputationEndpoints.rate, { id: tiny.task_id, rating: 5 }, spammer);
    }
    const honestView = await harness.call(reputationEndpoints.get, { agent_id: honest.agentId });
    const gamedView = await harness.call(reputationEndpoints.get, { agent_id: gamed.agentId });
    expect(gamedView.ratings.count).toBe(8);
    expect(gamedView.quality - 50).toBeLessThan(honestView.quality - 50);
    // Bound (docs/REPUTATION.md): at most 2 × 0.001 × (1 + 1/10) of the large rating's move.
    expect(gamedView.quality - 50).toBeLessThanOrEqual(0.0022 * (honestView.quality - 50) + 0.01);
  });
});
