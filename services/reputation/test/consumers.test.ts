import { jetstream } from '@nats-io/jetstream';
import { auctionEvents, reputationEndpoints, reputationEvents, taskEvents } from '@zerostate/contracts';
import { metricValue, readStreamMessages, waitUntil } from '@zerostate/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { completedTask, failedTask, newAgent, profileOf, timedOutTask, waitForRows } from './fixtures.js';
import { type Harness, startHarness } from './harness.js';

/** The stored state a replayed event must leave alone. */
async function stateOf(harness: Harness, agentId: string) {
  const performance = await harness.db.query('SELECT * FROM agent_performance WHERE agent_id = $1', [
    agentId,
  ]);
  const score = await harness.db.query('SELECT * FROM scores WHERE agent_id = $1', [agentId]);
  const evidence = await harness.db.query('SELECT count(*)::int AS n FROM score_events WHERE agent_id = $1', [
    agentId,
  ]);
  const outbox = await harness.db.query(
    "SELECT count(*)::int AS n FROM outbox WHERE payload->>'agent_id' = $1",
    [agentId],
  );
  return {
    performance: performance.rows,
    score: score.rows,
    evidence: evidence.rows[0].n,
    outbox: outbox.rows[0].n,
  };
}

describe('reputation consumers on real JetStream', () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await startHarness({ name: 'reputation_consumers' });
  });
  afterAll(async () => harness?.stop());

  it('when a task completes, then the agent is counted, its score rises and evt.reputation.score.updated is published', async () => {
    const agent = newAgent();
    const task = completedTask(agent, harness.clock.now());
    await harness.publish(taskEvents.completed, task);
    await waitForRows(harness, 'SELECT 1 FROM score_events WHERE task_id = $1', [task.task_id]);

    const view = await harness.call(reputationEndpoints.get, { agent_id: agent.agentId });
    expect(view.tasks).toEqual({ total: 1, completed: 1, failed: 0, timed_out: 0 });
    // One reference-sized requester: reliability 100 × 6/11, speed 100 × (5 + 0.75)/11, quality 50.
    expect(view.reliability).toBe(54.55);
    expect(view.speed).toBe(52.27);
    expect(view.quality).toBe(50);
    const messages = await readStreamMessages(harness.nc, {
      stream: 'EVENTS',
      subject: reputationEvents.scoreUpdated.subject,
      count: 1,
    });
    const feed = messages.map((message) => (message.body as { data: { agent_id: string } }).data);
    expect(feed).toContainEqual(
      expect.objectContaining({ agent_id: agent.agentId, version: 1, overall: view.overall }),
    );
  });

  it('when the same event is delivered twice (two message ids, one event id), then the second changes nothing', async () => {
    const agent = newAgent();
    const task = completedTask(agent, harness.clock.now());
    const id = await harness.publish(taskEvents.completed, task, { messageId: 'first-copy' });
    await waitForRows(harness, 'SELECT 1 FROM score_events WHERE task_id = $1', [task.task_id]);
    const before = await stateOf(harness, agent.agentId);

    const duplicatesBefore = await metricValue(harness.registry, 'events_processed_total', {
      consumer: 'task-completed',
      outcome: 'duplicate',
    });
    await harness.publish(taskEvents.completed, task, { id, messageId: 'second-copy' });
    await waitUntil('the duplicate to be acknowledged', async () => {
      return (
        (await metricValue(harness.registry, 'events_processed_total', {
          consumer: 'task-completed',
          outcome: 'duplicate',
        })) > duplicatesBefore
      );
    });

    expect(await stateOf(harness, agent.agentId)).toEqual(before);
    expect(before.evidence).toBe(1);
  });

  it('when the producer sends one outcome twice under two event ids, then the task still counts once', async () => {
    const agent = newAgent();
    const task = completedTask(agent, harness.clock.now());
    const appliedBefore = await metricValue(harness.registry, 'events_processed_total', {
      consumer: 'task-completed',
      outcome: 'applied',
    });
    await harness.publish(taskEvents.completed, task);
    await harness.publish(taskEvents.completed, task);
    await waitUntil(
      'both events to be applied',
      async () =>
        (await metricValue(harness.registry, 'events_processed_total', {
          consumer: 'task-completed',
          outcome: 'applied',
        })) >=
        appliedBefore + 2,
    );
    const performance = await harness.call(reputationEndpoints.performance, { id: agent.agentId });
    expect(performance.total_tasks).toBe(1);
    expect(performance.successful_tasks).toBe(1);
  });

  it('when failures and timeouts arrive, then they count against the agent; a failure without a valid bid counts against nobody', async () => {
    const agent = newAgent();
    const failed = failedTask(agent, harness.clock.now());
    const timedOut = timedOutTask(agent, harness.clock.now());
    const noBid = failedTask(agent, harness.clock.now(), {
      agent_id: null,
      agent_owner_id: null,
      cost: null,
      reason: 'no_valid_bid',
      error: 'no valid bid',
    });
    await harness.publish(taskEvents.failed, failed);
    await harness.publish(taskEvents.timedOut, timedOut);
    await harness.publish(taskEvents.failed, noBid);
    await waitForRows(harness, 'SELECT 1 FROM tasks WHERE task_id = $1', [noBid.task_id]);
    await waitForRows(harness, 'SELECT 1 FROM score_events WHERE task_id = $1', [timedOut.task_id]);
    await waitForRows(harness, 'SELECT 1 FROM score_events WHERE task_id = $1', [failed.task_id]);

    const view = await harness.call(reputationEndpoints.get, { agent_id: agent.agentId });
    expect(view.tasks).toEqual({ total: 2, completed: 0, failed: 1, timed_out: 1 });
    expect(view.reliability).toBe(41.67); // 100 × 5 / 12
    expect(view.speed).toBe(45.45); // 100 × 5 / 11
    expect(view.overall).toBeLessThan(50);
  });

  it('when bids, an award and agent profiles arrive, then performance counts them and an older profile does not win', async () => {
    const agent = newAgent(['nlp', 'vision']);
    const now = harness.clock.now();
    await harness.publish(
      auctionEvents.agentUpdated,
      profileOf(agent, new Date(now.getTime() + 1_000), { capabilities: ['vision'] }),
    );
    await harness.publish(auctionEvents.agentRegistered, profileOf(agent, now));
    for (let index = 0; index < 3; index += 1) {
      await harness.publish(auctionEvents.bidPlaced, {
        bid_id: crypto.randomUUID(),
        auction_id: crypto.randomUUID(),
        agent_id: agent.agentId,
        owner_id: agent.ownerId,
        placed_at: now.toISOString(),
      });
    }
    await harness.publish(auctionEvents.awarded, {
      auction_id: crypto.randomUUID(),
      task_id: null,
      requester_id: crypto.randomUUID(),
      winner_agent_id: agent.agentId,
      winner_owner_id: agent.ownerId,
      winner_bid_id: crypto.randomUUID(),
      price: 1,
      rule: 'first_price',
      capabilities: ['vision'],
      awarded_at: now.toISOString(),
    });
    await harness.settled('agent-registered', 1);
    await waitUntil('counts', async () => {
      const performance = await harness.call(reputationEndpoints.performance, { id: agent.agentId });
      return performance.bids_submitted === 3 && performance.auctions_won === 1;
    });
    const performance = await harness.call(reputationEndpoints.performance, { id: agent.agentId });
    expect(performance).toEqual({
      agent_id: agent.agentId,
      reputation: 50,
      total_tasks: 0,
      successful_tasks: 0,
      failed_tasks: 0,
      timed_out_tasks: 0,
      success_rate: null,
      bids_submitted: 3,
      auctions_won: 1,
    });
    const { rows } = await harness.db.query(
      'SELECT capabilities FROM agent_performance WHERE agent_id = $1',
      [agent.agentId],
    );
    expect(rows[0].capabilities).toEqual(['vision']);
  });

  it('when hundreds of bids of several agents arrive at once, one of them twice, then each agent counts exactly its bids and has a score', async () => {
    const known = newAgent(['vision']);
    const now = harness.clock.now();
    await harness.publish(auctionEvents.agentRegistered, profileOf(known, now));
    await waitForRows(harness, 'SELECT 1 FROM scores WHERE agent_id = $1', [known.agentId]);
    const agents = [known, newAgent(), newAgent(), newAgent(), newAgent()];
    const bidsPerAgent = [40, 1, 17, 60, 33];
    const bids = agents.flatMap((agent, index) =>
      Array.from({ length: bidsPerAgent[index]! }, () => ({
        bid_id: crypto.randomUUID(),
        auction_id: crypto.randomUUID(),
        agent_id: agent.agentId,
        owner_id: agent.ownerId,
        placed_at: now.toISOString(),
      })),
    );
    // Interleaved across agents and published twenty at a time, so the consumer takes them in batches.
    bids.sort(() => Math.random() - 0.5);
    const processed = (outcome: string) =>
      metricValue(harness.registry, 'events_processed_total', { consumer: 'bid-placed', outcome });
    const appliedBefore = await processed('applied');
    const duplicatesBefore = await processed('duplicate');
    const ids: string[] = [];
    for (let from = 0; from < bids.length; from += 20) {
      const group = bids.slice(from, from + 20);
      ids.push(...(await Promise.all(group.map((bid) => harness.publish(auctionEvents.bidPlaced, bid)))));
    }
    // A redelivery: the first bid's event again, under another message id.
    await harness.publish(auctionEvents.bidPlaced, bids[0]!, { id: ids[0]!, messageId: 'bid-again' });
    await harness.settled('bid-placed', appliedBefore + duplicatesBefore + bids.length + 1);

    const { rows } = await harness.db.query(
      `SELECT a.agent_id, a.bids_submitted, a.capabilities, s.version
         FROM agent_performance a LEFT JOIN scores s ON s.agent_id = a.agent_id
        WHERE a.agent_id = ANY($1::uuid[])`,
      [agents.map((agent) => agent.agentId)],
    );
    const byAgent = new Map(rows.map((row) => [row.agent_id, row]));
    agents.forEach((agent, index) => {
      const row = byAgent.get(agent.agentId);
      expect(row?.bids_submitted, `bids of agent ${index}`).toBe(bidsPerAgent[index]);
      // Every agent has a stored score: the known one kept its own, the new ones got a first.
      expect(row?.version, `score of agent ${index}`).toBe('1');
    });
    expect(byAgent.get(known.agentId)?.capabilities).toEqual(['vision']);
    expect(byAgent.get(agents[1]!.agentId)?.capabilities).toEqual([]);
    expect(await processed('applied')).toBe(appliedBefore + bids.length);
    expect(await processed('duplicate')).toBeGreaterThan(duplicatesBefore);
  });

  it('when a task event breaks its contract (a fractional cost), then it is dead-lettered and nothing is applied', async () => {
    const agent = newAgent();
    const task = { ...completedTask(agent, harness.clock.now()), cost: 1.5 };
    const id = crypto.randomUUID();
    const envelope = {
      id,
      type: taskEvents.completed.subject,
      occurred_at: new Date().toISOString(),
      data: task,
    };
    await jetstream(harness.nc).publish(taskEvents.completed.subject, JSON.stringify(envelope), {
      msgID: id,
      timeout: 5_000,
    });
    const letters = await readStreamMessages(harness.nc, {
      stream: 'DEAD_LETTERS',
      subject: 'dlq.reputation.task-completed',
      count: 1,
      timeoutMs: 20_000,
    });
    expect(letters.map((letter) => (letter.body as { id: string }).id)).toEqual([id]);
    const { rows } = await harness.db.query('SELECT 1 FROM score_events WHERE task_id = $1', [task.task_id]);
    expect(rows).toEqual([]);
  });

  it('when the service stops mid-stream and another starts, then every one of 120 events is applied exactly once', async () => {
    const agent = newAgent();
    const tasks = Array.from({ length: 120 }, () => completedTask(agent, harness.clock.now()));
    for (const task of tasks.slice(0, 100)) await harness.publish(taskEvents.completed, task);
    await waitForRows(harness, 'SELECT 1 FROM score_events WHERE agent_id = $1', [agent.agentId]);
    // Stop while the stream still holds unapplied events, then publish the rest while nobody consumes.
    await harness.service.stop();
    for (const task of tasks.slice(100)) await harness.publish(taskEvents.completed, task);
    const { rows: whileStopped } = await harness.db.query(
      'SELECT count(*)::int AS n FROM score_events WHERE agent_id = $1',
      [agent.agentId],
    );
    // Stopped mid-stream: some of the first 100 applied (about 10 here), not all of them.
    expect(whileStopped[0].n).toBeGreaterThan(0);
    expect(whileStopped[0].n).toBeLessThan(100);

    await harness.startAnother();
    await waitUntil('all 120 tasks to be applied', async () => {
      const { rows } = await harness.db.query(
        'SELECT count(*)::int AS n FROM score_events WHERE agent_id = $1',
        [agent.agentId],
      );
      return rows[0].n >= 120;
    });
    const { rows: applied } = await harness.db.query('SELECT task_id FROM score_events WHERE agent_id = $1', [
      agent.agentId,
    ]);
    expect(new Set(applied.map((row) => row.task_id))).toEqual(new Set(tasks.map((task) => task.task_id)));
    const { rows: counts } = await harness.db.query(
      'SELECT total_tasks FROM agent_performance WHERE agent_id = $1',
      [agent.agentId],
    );
    expect(counts[0].total_tasks).toBe(120);
  });
});
