import {
  type AgentProfile,
  type AuctionAwarded,
  auctionEvents,
  type BidPlaced,
  type TaskCompleted,
  type TaskFailed,
  type TaskTimedOut,
  taskEvents,
} from '@zerostate/contracts';
import { type ConsumedEvent, type ConsumerDefinition, defineConsumer } from '@zerostate/service-kit';
import type pg from 'pg';
import { type AgentBids, applyProfile, countBids, countOutcome, countWin, ensureAgent } from './db/agents.js';
import { agentsWithEvidenceFrom, insertEvidence, recordDealing } from './db/evidence.js';
import { rescore } from './db/scores.js';
import { recordAward, recordOutcome } from './db/tasks.js';
import { completedOutcome, failedOutcome, type TaskOutcome, timedOutOutcome } from './domain/outcomes.js';

/** The clock scores are computed at; tests pass a fixed one. */
export type Clock = () => Date;

/**
 * Stores a task outcome's evidence (once per task and kind), counts it, and rescores the agent.
 * Returns whether the evidence was new.
 */
async function applyOutcome(
  client: pg.PoolClient,
  event: ConsumedEvent<unknown>,
  outcome: TaskOutcome,
  capabilities: readonly string[],
  clock: Clock,
): Promise<boolean> {
  await ensureAgent(client, { agentId: outcome.agentId, ownerId: outcome.agentOwnerId, capabilities });
  const stored = await insertEvidence(client, {
    id: event.id,
    agentId: outcome.agentId,
    taskId: outcome.taskId,
    kind: outcome.kind,
    evidence: outcome.evidence,
  });
  if (!stored) return false;
  await countOutcome(client, outcome.agentId, outcome.kind);
  await rescore(client, { agentId: outcome.agentId, ownerId: outcome.agentOwnerId }, clock());
  return true;
}

async function onCompleted(client: pg.PoolClient, event: ConsumedEvent<TaskCompleted>, clock: Clock) {
  const { data } = event;
  await recordOutcome(client, {
    taskId: data.task_id,
    requesterId: data.requester_id,
    agentId: data.agent_id,
    agentOwnerId: data.agent_owner_id,
    status: 'completed',
    costMicro: BigInt(data.cost),
  });
  const fresh = await applyOutcome(client, event, completedOutcome(data), data.capabilities, clock);
  if (!fresh || data.cost === 0) return;
  // A first paid dealing requester → owner makes the owner's evidence about the requester's own
  // agents reciprocal: rescore those agents too (docs/REPUTATION.md "Reciprocal dealing").
  if (await recordDealing(client, data.requester_id, data.agent_owner_id)) {
    for (const agentId of await agentsWithEvidenceFrom(client, data.requester_id, data.agent_owner_id)) {
      await rescore(client, { agentId, ownerId: data.requester_id }, clock());
    }
  }
}

async function onFailed(client: pg.PoolClient, event: ConsumedEvent<TaskFailed>, clock: Clock) {
  const { data } = event;
  await recordOutcome(client, {
    taskId: data.task_id,
    requesterId: data.requester_id,
    agentId: data.agent_id,
    agentOwnerId: data.agent_owner_id,
    status: 'failed',
    costMicro: data.cost === null ? null : BigInt(data.cost),
  });
  const outcome = failedOutcome(data);
  if (outcome) await applyOutcome(client, event, outcome, data.capabilities, clock);
}

async function onTimedOut(client: pg.PoolClient, event: ConsumedEvent<TaskTimedOut>, clock: Clock) {
  const { data } = event;
  await recordOutcome(client, {
    taskId: data.task_id,
    requesterId: data.requester_id,
    agentId: data.agent_id,
    agentOwnerId: data.agent_owner_id,
    status: 'timed_out',
    costMicro: BigInt(data.cost),
  });
  await applyOutcome(client, event, timedOutOutcome(data), data.capabilities, clock);
}

async function onAwarded(client: pg.PoolClient, event: ConsumedEvent<AuctionAwarded>, clock: Clock) {
  const { data } = event;
  // Rows are locked in one order by every handler (tasks, then agent_performance, then scores),
  // so an award and its task's outcome applied at once never deadlock.
  if (data.task_id !== null) {
    await recordAward(client, {
      taskId: data.task_id,
      requesterId: data.requester_id,
      agentId: data.winner_agent_id,
      agentOwnerId: data.winner_owner_id,
      priceMicro: BigInt(data.price),
    });
  }
  await ensureAgent(client, {
    agentId: data.winner_agent_id,
    ownerId: data.winner_owner_id,
    capabilities: data.capabilities,
  });
  await countWin(client, data.winner_agent_id);
  await rescore(client, { agentId: data.winner_agent_id, ownerId: data.winner_owner_id }, clock());
}

/**
 * Counts a batch of bids: each agent's bids added in one statement (rows locked in agent id
 * order), and an agent seen for the first time gets its first stored score.
 */
async function onBidsPlaced(client: pg.PoolClient, events: ConsumedEvent<BidPlaced>[], clock: Clock) {
  const byAgent = new Map<string, AgentBids>();
  for (const { data } of events) {
    // Postgres compares uuids regardless of case; so does the count.
    const agentId = data.agent_id.toLowerCase();
    const counted = byAgent.get(agentId);
    if (counted) counted.count += 1;
    else byAgent.set(agentId, { agentId, ownerId: data.owner_id, count: 1 });
  }
  const bids = [...byAgent.values()].sort((a, b) => (a.agentId < b.agentId ? -1 : 1));
  const unscored = await countBids(client, bids);
  // Scores rows come after agent_performance rows, in the same order, as in every handler.
  for (const { agentId, ownerId } of bids) {
    if (unscored.has(agentId)) await rescore(client, { agentId, ownerId }, clock());
  }
}

async function onProfile(client: pg.PoolClient, event: ConsumedEvent<AgentProfile>, clock: Clock) {
  await applyProfile(client, event.data);
  await ensureScore(client, event.data.agent_id, event.data.owner_id, clock);
}

/** A known agent gets a stored score (50 at first), so it appears on the leaderboard. */
async function ensureScore(client: pg.PoolClient, agentId: string, ownerId: string, clock: Clock) {
  const { rowCount } = await client.query({
    name: 'reputation_score_exists',
    text: 'SELECT 1 FROM scores WHERE agent_id = $1',
    values: [agentId],
  });
  if (rowCount === 0) await rescore(client, { agentId, ownerId }, clock());
}

/**
 * The reputation service's durable consumers, one per event it is fed by (SPEC §4.4). The kit
 * runs each handler in a transaction that also records the event id in `processed_events`, so a
 * redelivered event changes nothing; acks follow the commit, so a consumer stopped mid-stream
 * loses nothing. Bids are applied in batches of the events waiting or arriving within the kit's linger (`handleBatch`).
 */
export function reputationConsumers(clock: Clock): ConsumerDefinition<unknown>[] {
  const consumers = [
    defineConsumer({
      name: 'task-completed',
      subject: taskEvents.completed.subject,
      schema: taskEvents.completed.payload,
      handle: (event, { client }) => onCompleted(client, event, clock),
    }),
    defineConsumer({
      name: 'task-failed',
      subject: taskEvents.failed.subject,
      schema: taskEvents.failed.payload,
      handle: (event, { client }) => onFailed(client, event, clock),
    }),
    defineConsumer({
      name: 'task-timed-out',
      subject: taskEvents.timedOut.subject,
      schema: taskEvents.timedOut.payload,
      handle: (event, { client }) => onTimedOut(client, event, clock),
    }),
    defineConsumer({
      name: 'auction-awarded',
      subject: auctionEvents.awarded.subject,
      schema: auctionEvents.awarded.payload,
      handle: (event, { client }) => onAwarded(client, event, clock),
    }),
    // One event per bid, hundreds a second under load: counted in batches, not one per transaction.
    defineConsumer({
      name: 'bid-placed',
      subject: auctionEvents.bidPlaced.subject,
      schema: auctionEvents.bidPlaced.payload,
      handleBatch: (events, { client }) => onBidsPlaced(client, events, clock),
    }),
    defineConsumer({
      name: 'agent-registered',
      subject: auctionEvents.agentRegistered.subject,
      schema: auctionEvents.agentRegistered.payload,
      handle: (event, { client }) => onProfile(client, event, clock),
    }),
    defineConsumer({
      name: 'agent-updated',
      subject: auctionEvents.agentUpdated.subject,
      schema: auctionEvents.agentUpdated.payload,
      handle: (event, { client }) => onProfile(client, event, clock),
    }),
  ];
  return consumers as ConsumerDefinition<unknown>[];
}
