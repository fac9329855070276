import type { AgentProfile } from '@zerostate/contracts';
import type { OutcomeKind } from '../domain/outcomes.js';
import type { Sql } from './sql.js';

/** An agent's row of the performance read model, as the domain and handlers use it. */
export interface AgentRecord {
  agentId: string;
  ownerId: string;
  capabilities: string[];
  totalTasks: number;
  successfulTasks: number;
  failedTasks: number;
  timedOutTasks: number;
  ratingsCount: number;
  ratingsSum: number;
  bidsSubmitted: number;
  auctionsWon: number;
  updatedAt: Date;
}

/**
 * Makes sure the agent has a row. An agent first seen in a task or auction event takes that
 * event's capabilities until an agent event (the authority on capabilities) arrives.
 */
export async function ensureAgent(
  sql: Sql,
  agent: { agentId: string; ownerId: string; capabilities: readonly string[] },
): Promise<void> {
  // Named (parsed and planned once per connection): it runs for every event about an agent.
  await sql.query({
    name: 'reputation_ensure_agent',
    text: `INSERT INTO agent_performance (agent_id, owner_id, capabilities) VALUES ($1, $2, $3)
     ON CONFLICT (agent_id) DO UPDATE SET
       capabilities = CASE WHEN agent_performance.profile_updated_at IS NULL
         THEN ARRAY(SELECT DISTINCT unnest(agent_performance.capabilities || EXCLUDED.capabilities) ORDER BY 1)
         ELSE agent_performance.capabilities END`,
    values: [agent.agentId, agent.ownerId, [...agent.capabilities]],
  });
}

/** Applies an agent event unless a newer one was applied already (events may arrive out of order). */
export async function applyProfile(sql: Sql, profile: AgentProfile): Promise<boolean> {
  const result = await sql.query(
    `INSERT INTO agent_performance (agent_id, owner_id, capabilities, status, profile_updated_at)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (agent_id) DO UPDATE SET
       owner_id = EXCLUDED.owner_id, capabilities = EXCLUDED.capabilities, status = EXCLUDED.status,
       profile_updated_at = EXCLUDED.profile_updated_at, updated_at = now()
     WHERE agent_performance.profile_updated_at IS NULL
        OR agent_performance.profile_updated_at < EXCLUDED.profile_updated_at`,
    [
      profile.agent_id,
      profile.owner_id,
      [...new Set(profile.capabilities)].sort(),
      profile.status,
      profile.updated_at,
    ],
  );
  return result.rowCount === 1;
}

const outcomeColumn: Record<OutcomeKind, string> = {
  completed: 'successful_tasks',
  failed: 'failed_tasks',
  timed_out: 'timed_out_tasks',
};

/** Counts one task outcome (the caller stored its evidence first, so a repeat never gets here). */
export async function countOutcome(sql: Sql, agentId: string, kind: OutcomeKind): Promise<void> {
  const column = outcomeColumn[kind];
  await sql.query(
    `UPDATE agent_performance SET total_tasks = total_tasks + 1, ${column} = ${column} + 1, updated_at = now()
     WHERE agent_id = $1`,
    [agentId],
  );
}

/** One agent's bids in a batch of bid events: the owner they name and how many there were. */
export interface AgentBids {
  agentId: string;
  ownerId: string;
  count: number;
}

/**
 * Adds each agent's bids to `bids_submitted` in one statement, first making sure the agent has a
 * row as ensureAgent does. Bids carry no capabilities, so a known agent's are left as they are
 * (ensureAgent's merge with an empty list would change nothing). The rows are locked in
 * agent id order, so two batches with agents in common never deadlock. Each agent at most once.
 * Returns the agents that have no stored score yet.
 */
export async function countBids(sql: Sql, bids: readonly AgentBids[]): Promise<Set<string>> {
  const { rows } = await sql.query<{ agent_id: string; scored: boolean }>({
    name: 'reputation_count_bids',
    text: `INSERT INTO agent_performance (agent_id, owner_id, capabilities, bids_submitted)
     SELECT agent_id, owner_id, '{}'::text[], count
       FROM unnest($1::uuid[], $2::uuid[], $3::int[]) AS bid(agent_id, owner_id, count)
      ORDER BY agent_id
     ON CONFLICT (agent_id) DO UPDATE SET
       bids_submitted = agent_performance.bids_submitted + EXCLUDED.bids_submitted, updated_at = now()
     RETURNING agent_id, EXISTS (SELECT 1 FROM scores WHERE scores.agent_id = agent_performance.agent_id) AS scored`,
    values: [bids.map((bid) => bid.agentId), bids.map((bid) => bid.ownerId), bids.map((bid) => bid.count)],
  });
  return new Set(rows.filter((row) => !row.scored).map((row) => row.agent_id));
}

export async function countWin(sql: Sql, agentId: string): Promise<void> {
  await sql.query(
    'UPDATE agent_performance SET auctions_won = auctions_won + 1, updated_at = now() WHERE agent_id = $1',
    [agentId],
  );
}

export async function countRating(sql: Sql, agentId: string, rating: number): Promise<void> {
  await sql.query(
    `UPDATE agent_performance SET ratings_count = ratings_count + 1, ratings_sum = ratings_sum + $2,
       updated_at = now() WHERE agent_id = $1`,
    [agentId, rating],
  );
}

interface AgentRow {
  agent_id: string;
  owner_id: string;
  capabilities: string[];
  total_tasks: number;
  successful_tasks: number;
  failed_tasks: number;
  timed_out_tasks: number;
  ratings_count: number;
  ratings_sum: number;
  bids_submitted: number;
  auctions_won: number;
  updated_at: Date;
}

export const agentColumns = `a.agent_id, a.owner_id, a.capabilities, a.total_tasks, a.successful_tasks,
  a.failed_tasks, a.timed_out_tasks, a.ratings_count, a.ratings_sum, a.bids_submitted, a.auctions_won, a.updated_at`;

export function toAgentRecord(row: AgentRow): AgentRecord {
  return {
    agentId: row.agent_id,
    ownerId: row.owner_id,
    capabilities: row.capabilities ?? [],
    totalTasks: row.total_tasks,
    successfulTasks: row.successful_tasks,
    failedTasks: row.failed_tasks,
    timedOutTasks: row.timed_out_tasks,
    ratingsCount: row.ratings_count,
    ratingsSum: row.ratings_sum,
    bidsSubmitted: row.bids_submitted,
    auctionsWon: row.auctions_won,
    updatedAt: row.updated_at,
  };
}

export async function findAgents(sql: Sql, agentIds: readonly string[]): Promise<Map<string, AgentRecord>> {
  const { rows } = await sql.query<AgentRow>(
    `SELECT ${agentColumns} FROM agent_performance a WHERE a.agent_id = ANY($1::uuid[])`,
    [[...agentIds]],
  );
  return new Map(rows.map((row) => [row.agent_id, toAgentRecord(row)]));
}
