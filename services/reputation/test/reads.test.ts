import { randomUUID } from 'node:crypto';
import { auctionEvents, reputationEndpoints } from '@zerostate/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { completeTask, newAgent, profileOf, waitForRows } from './fixtures.js';
import { type Harness, startHarness } from './harness.js';

const hundredths = (value: number) => Math.round(value * 100);

describe('reputation reads', () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await startHarness({ name: 'reputation_reads' });
  });
  afterAll(async () => harness?.stop());

  it('when nothing is known of an agent, then it scores 50 everywhere with terms that add up and no counts', async () => {
    const agentId = randomUUID();
    const view = await harness.call(reputationEndpoints.get, { agent_id: agentId });
    expect(view).toMatchObject({
      agent_id: agentId,
      overall: 50,
      reliability: 50,
      quality: 50,
      speed: 50,
      tasks: { total: 0, completed: 0, failed: 0, timed_out: 0 },
      ratings: { count: 0, average: null },
      updated_at: null,
    });
    expect(view.explanation.terms).toEqual([
      { name: 'reliability', value: 25 },
      { name: 'quality', value: 15 },
      { name: 'speed', value: 10 },
    ]);
  });

  it('when an agent has a record, then the explanation terms add up exactly to overall and the formula names its inputs', async () => {
    const agent = newAgent();
    for (const workedSeconds of [7, 33, 61])
      await completeTask(harness, agent, { workedSeconds, cost: 3_333_333 });
    const view = await harness.call(reputationEndpoints.get, { agent_id: agent.agentId });
    const sum = view.explanation.terms.reduce((total, term) => total + hundredths(term.value), 0);
    expect(sum).toBe(hundredths(view.overall));
    expect(view.overall).toBeGreaterThan(50);
    expect(view.explanation.formula).toContain('0.5 × reliability + 0.3 × quality + 0.2 × speed');
    expect(view.explanation.formula).toContain('30 days');
    const many = await harness.call(reputationEndpoints.getMany, {
      agent_ids: [agent.agentId, randomUUID()],
    });
    expect(many.items.map((item) => item.overall)).toEqual([view.overall, 50]);
  });

  it('when the injected clock moves 90 days on, then the read decays toward 50 and the decay job stores and publishes it', async () => {
    const agent = newAgent();
    for (let index = 0; index < 5; index += 1) await completeTask(harness, agent, { workedSeconds: 10 });
    const fresh = await harness.call(reputationEndpoints.get, { agent_id: agent.agentId });
    const stored = await harness.db.query(
      'SELECT overall_hundredths, version FROM scores WHERE agent_id = $1',
      [agent.agentId],
    );
    expect(stored.rows[0].overall_hundredths).toBe(hundredths(fresh.overall));

    harness.clock.advanceDays(90);
    try {
      const later = await harness.call(reputationEndpoints.get, { agent_id: agent.agentId });
      // Three half-lives: each requester's weight is an eighth of what it was.
      expect(later.reliability).toBe(hundredths((100 * (5 + 5 / 8)) / (10 + 5 / 8)) / 100);
      expect(later.overall).toBeLessThan(fresh.overall);
      expect(later.overall).toBeGreaterThan(50);

      expect(await harness.service.exposed().decay(0)).toBeGreaterThanOrEqual(1);
      const after = await harness.db.query(
        'SELECT overall_hundredths, version FROM scores WHERE agent_id = $1',
        [agent.agentId],
      );
      expect(after.rows[0].overall_hundredths).toBe(hundredths(later.overall));
      expect(Number(after.rows[0].version)).toBe(Number(stored.rows[0].version) + 1);
      const { rows: feed } = await harness.db.query(
        `SELECT payload FROM outbox WHERE subject = 'evt.reputation.score.updated' AND payload->>'agent_id' = $1
         ORDER BY (payload->>'version')::int DESC LIMIT 1`,
        [agent.agentId],
      );
      expect(feed[0].payload).toMatchObject({
        overall: later.overall,
        version: Number(after.rows[0].version),
      });
    } finally {
      harness.clock.advanceDays(-90);
      await harness.service.exposed().decay(0);
    }
  });

  it('when the leaderboard is read by capability a page at a time, then it is best first, stable and complete', async () => {
    const capability = `cap-${randomUUID().slice(0, 8)}`;
    const agents = Array.from({ length: 4 }, () => newAgent([capability]));
    for (const agent of agents)
      await harness.publish(auctionEvents.agentRegistered, profileOf(agent, harness.clock.now()));
    for (const agent of agents) {
      await waitForRows(harness, 'SELECT 1 FROM scores WHERE agent_id = $1', [agent.agentId]);
    }
    // Different records: 3, 2, 1 and 0 completed tasks.
    for (const [index, agent] of agents.entries()) {
      for (let task = 0; task < 3 - index; task += 1) await completeTask(harness, agent);
    }
    const seen: string[] = [];
    const scores: number[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 10; page += 1) {
      const result = await harness.call(reputationEndpoints.leaderboard, {
        capability,
        limit: 1,
        ...(cursor ? { cursor } : {}),
      });
      seen.push(...result.items.map((item) => item.agent_id));
      scores.push(...result.items.map((item) => item.overall));
      if (result.next_cursor === null) break;
      cursor = result.next_cursor;
    }
    expect(seen).toEqual(agents.map((agent) => agent.agentId));
    expect([...scores].sort((left, right) => right - left)).toEqual(scores);
    expect(scores.at(-1)).toBe(50);
    const other = await harness.call(reputationEndpoints.leaderboard, { capability: 'no-such-capability' });
    expect(other).toEqual({ items: [], next_cursor: null });
  });

  it('when the cursor is not one the service issued, then VALIDATION_FAILED', async () => {
    const code = await harness.failure(reputationEndpoints.leaderboard, { cursor: 'bm90LWEtY3Vyc29y' });
    expect(code).toBe('VALIDATION_FAILED');
  });

  it('when an agent has completed and failed tasks, then performance has the success rate', async () => {
    const agent = newAgent();
    await completeTask(harness, agent);
    const performance = await harness.call(reputationEndpoints.performance, { id: agent.agentId });
    expect(performance).toMatchObject({
      total_tasks: 1,
      successful_tasks: 1,
      success_rate: 1,
      auctions_won: 1,
    });
    const view = await harness.call(reputationEndpoints.get, { agent_id: agent.agentId });
    expect(performance.reputation).toBe(view.overall);
  });
});
