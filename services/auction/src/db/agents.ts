import { type AgentProfile, auctionEvents } from '@zerostate/contracts';
import { enqueueEvent, inTransaction, isUniqueViolation, uuidV7 } from '@zerostate/database';
import { AppError } from '@zerostate/errors';
import { Prisma } from '../generated/prisma/client.js';
import type { AuctionPrisma, Transaction } from './prisma.js';

export type AgentStatus = 'online' | 'busy' | 'offline' | 'maintenance';

export interface AgentRecord {
  id: string;
  did: string;
  ownerId: string;
  name: string;
  description: string | null;
  capabilities: string[];
  pricePerTask: bigint;
  status: AgentStatus;
  maxCapacity: number;
  currentLoad: number;
  region: string | null;
  metadata: Record<string, unknown>;
  retiredAt: Date | null;
  lastSeenAt: Date;
  createdAt: Date;
  updatedAt: Date;
  /** From the reputation feed; 5,000 (50.00) until the agent has a score. */
  reputationHundredths: number;
  qualityHundredths: number;
}

/** What a neutral agent scores, in hundredths (SPEC: new agents count as 50). */
export const neutralHundredths = 5_000;

interface AgentRow {
  id: string;
  did: string;
  owner_id: string;
  name: string;
  description: string | null;
  capabilities: string[];
  price_per_task: bigint;
  status: AgentStatus;
  max_capacity: number;
  current_load: number;
  region: string | null;
  metadata: Record<string, unknown>;
  retired_at: Date | null;
  last_seen_at: Date;
  created_at: Date;
  updated_at: Date;
  reputation_hundredths: number;
  quality_hundredths: number;
}

const agentColumns = Prisma.sql`
  a.id::text, a.did, a.owner_id::text, a.name, a.description, a.capabilities, a.price_per_task,
  a.status, a.max_capacity, a.current_load, a.region, a.metadata, a.retired_at, a.last_seen_at,
  a.created_at, a.updated_at,
  COALESCE(s.overall_hundredths, ${neutralHundredths})::int AS reputation_hundredths,
  COALESCE(s.quality_hundredths, ${neutralHundredths})::int AS quality_hundredths`;

function toRecord(row: AgentRow): AgentRecord {
  return {
    id: row.id,
    did: row.did,
    ownerId: row.owner_id,
    name: row.name,
    description: row.description,
    capabilities: row.capabilities,
    pricePerTask: BigInt(row.price_per_task),
    status: row.status,
    maxCapacity: row.max_capacity,
    currentLoad: row.current_load,
    region: row.region,
    metadata: row.metadata,
    retiredAt: row.retired_at,
    lastSeenAt: row.last_seen_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    reputationHundredths: row.reputation_hundredths,
    qualityHundredths: row.quality_hundredths,
  };
}

export function profileOf(agent: AgentRecord): AgentProfile {
  return {
    agent_id: agent.id,
    owner_id: agent.ownerId,
    capabilities: agent.capabilities,
    status: agent.status,
    updated_at: agent.updatedAt.toISOString(),
  };
}

export async function findAgent(
  db: AuctionPrisma | Transaction,
  id: string,
  options: { forUpdate?: boolean } = {},
): Promise<AgentRecord | undefined> {
  const rows = await db.$queryRaw<AgentRow[]>`
    SELECT ${agentColumns} FROM agents a LEFT JOIN agent_scores s ON s.agent_id = a.id
    WHERE a.id = ${id}::uuid ${options.forUpdate ? Prisma.sql`FOR UPDATE OF a` : Prisma.empty}`;
  return rows[0] ? toRecord(rows[0]) : undefined;
}

export interface NewAgent {
  did?: string;
  ownerId: string;
  name: string;
  description: string | null;
  capabilities: string[];
  pricePerTask: bigint;
  maxCapacity: number;
  region: string | null;
  metadata: Record<string, unknown>;
}

/** Registers an agent and its `agent.registered` event in one transaction. */
export function insertAgent(
  prisma: AuctionPrisma,
  agent: NewAgent & { didOf(id: string): string },
): Promise<AgentRecord> {
  return inTransaction(prisma, async (transaction) => {
    const id = uuidV7();
    await transaction.agent
      .create({
        data: {
          id,
          did: agent.didOf(id),
          ownerId: agent.ownerId,
          name: agent.name,
          description: agent.description,
          capabilities: agent.capabilities,
          pricePerTask: agent.pricePerTask,
          maxCapacity: agent.maxCapacity,
          region: agent.region,
          metadata: agent.metadata as Prisma.InputJsonValue,
        },
      })
      .catch((error: unknown) => {
        throw isUniqueViolation(error)
          ? new AppError('CONFLICT', 'An agent with this public key is already registered.', { cause: error })
          : error;
      });
    const record = (await findAgent(transaction, id))!;
    await enqueueEvent(transaction, auctionEvents.agentRegistered, profileOf(record));
    return record;
  });
}

export type AgentChange = Partial<
  Pick<
    NewAgent,
    'name' | 'description' | 'capabilities' | 'pricePerTask' | 'maxCapacity' | 'region' | 'metadata'
  >
>;

/**
 * Applies `change` to the caller's agent under its row lock, with an `agent.updated` event.
 * Someone else's agent is 'not_found'; a retired one 'retired'.
 */
export function updateAgent(
  prisma: AuctionPrisma,
  options: {
    id: string;
    ownerId: string;
    change: (agent: AgentRecord) => Prisma.AgentUpdateInput | 'retired' | undefined;
  },
): Promise<AgentRecord | 'not_found' | 'retired'> {
  return inTransaction(prisma, async (transaction) => {
    const agent = await findAgent(transaction, options.id, { forUpdate: true });
    if (!agent || agent.ownerId !== options.ownerId) return 'not_found' as const;
    const data = options.change(agent);
    if (data === 'retired') return 'retired' as const;
    if (data === undefined) return agent;
    await transaction.agent.update({ where: { id: agent.id }, data: { ...data, updatedAt: new Date() } });
    const updated = (await findAgent(transaction, agent.id))!;
    if (updated.status !== agent.status || data.capabilities !== undefined || data.retiredAt !== undefined) {
      await enqueueEvent(transaction, auctionEvents.agentUpdated, profileOf(updated));
    }
    return updated;
  });
}

/** A keyset position in search order: the match score (× 100) and the agent id. */
export interface SearchCursor {
  score: number;
  id: string;
}

/**
 * Search (docs/AUCTIONS.md "Search"): every capability listed must be held (GIN `@>`), retired
 * agents never appear, ordered by match score then id, both descending; `after` continues after
 * a position, so agents added meanwhile cause no repeats and no gaps among the ones listed.
 */
export async function searchAgents(
  prisma: AuctionPrisma,
  query: {
    capabilities: string[] | undefined;
    status: AgentStatus | undefined;
    region: string | undefined;
    minReputationHundredths: number | undefined;
    after: SearchCursor | undefined;
    limit: number;
  },
): Promise<{ items: (AgentRecord & { score: number })[]; hasMore: boolean }> {
  const regionBonus = query.region === undefined ? 0 : 100_000;
  const rows = await prisma.$queryRaw<(AgentRow & { score: number })[]>`
    SELECT * FROM (
      SELECT ${agentColumns},
        (30 * COALESCE(s.overall_hundredths, ${neutralHundredths})
          + 25 * COALESCE(s.quality_hundredths, ${neutralHundredths})
          + 20 * ((a.max_capacity - a.current_load) * 10000 / a.max_capacity)
          + 75000 + ${regionBonus})::int AS score
      FROM agents a LEFT JOIN agent_scores s ON s.agent_id = a.id
      WHERE a.retired_at IS NULL
        ${query.capabilities?.length ? Prisma.sql`AND a.capabilities @> ${query.capabilities}::text[]` : Prisma.empty}
        ${query.status ? Prisma.sql`AND a.status = ${query.status}` : Prisma.empty}
        ${query.region ? Prisma.sql`AND a.region = ${query.region}` : Prisma.empty}
        ${
          query.minReputationHundredths === undefined
            ? Prisma.empty
            : Prisma.sql`AND COALESCE(s.overall_hundredths, ${neutralHundredths}) >= ${query.minReputationHundredths}`
        }
    ) matched
    ${query.after ? Prisma.sql`WHERE (score, id::uuid) < (${query.after.score}, ${query.after.id}::uuid)` : Prisma.empty}
    ORDER BY score DESC, id::uuid DESC
    LIMIT ${query.limit + 1}`;
  const items = rows.slice(0, query.limit).map((row) => ({ ...toRecord(row), score: row.score }));
  return { items, hasMore: rows.length > query.limit };
}

/**
 * Marks agents offline whose last heartbeat is older than `staleAfterMs` (three intervals), in
 * one statement, so replicas running it at once mark each agent once; one event per agent.
 */
export function markStaleAgentsOffline(prisma: AuctionPrisma, staleAfterMs: number): Promise<number> {
  return inTransaction(prisma, async (transaction) => {
    const stale = await transaction.$queryRaw<{ id: string }[]>`
      UPDATE agents SET status = 'offline', updated_at = now()
      WHERE id IN (
        SELECT id FROM agents
        WHERE status IN ('online', 'busy') AND retired_at IS NULL
          AND last_seen_at < now() - ${staleAfterMs}::double precision * interval '1 millisecond'
        ORDER BY id LIMIT 500 FOR UPDATE SKIP LOCKED)
      RETURNING id::text`;
    for (const { id } of stale) {
      const agent = (await findAgent(transaction, id))!;
      await enqueueEvent(transaction, auctionEvents.agentUpdated, profileOf(agent));
    }
    return stale.length;
  });
}
