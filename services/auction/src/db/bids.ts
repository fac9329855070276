import { auctionEvents } from '@zerostate/contracts';
import { enqueueEvent, inTransaction, isUniqueViolation, pgTransactions, uuidV7 } from '@zerostate/database';
import type pg from 'pg';
import type { AgentForBid, AuctionForBid } from '../domain/bid-rules.js';
import { neutralHundredths } from './agents.js';
import type { BidRecord } from './auctions.js';

export interface BidAttempt {
  auctionId: string;
  agentId: string;
  ownerId: string;
  price: bigint;
  estimatedTimeSeconds: number;
  /** An Idempotency-Key and the hash of the request it came with. */
  retry?: { key: string; hash: string };
}

/**
 * What the handler decides on the rows read inside the bid's transaction: throw to refuse (the
 * transaction rolls back), return to place the bid.
 */
export type BidDecision = (auction: AuctionForBid, agent: (AgentForBid & { id: string }) | undefined) => void;

export type BidOutcome =
  | { kind: 'placed'; bid: BidRecord }
  | { kind: 'replay'; bid: BidRecord }
  | { kind: 'key_reused' }
  | { kind: 'closed' }
  | { kind: 'not_found' };

interface BidRow {
  id: string;
  auction_id: string;
  agent_id: string;
  owner_id: string;
  price: string;
  estimated_time_seconds: number;
  status: BidRecord['status'];
  created_at: Date;
  request_hash: string | null;
}

const bidColumns = `id::text, auction_id::text, agent_id::text, owner_id::text, price::text,
  estimated_time_seconds, status, created_at, request_hash`;

const asBid = (row: BidRow): BidRecord => ({
  id: row.id,
  auctionId: row.auction_id,
  agentId: row.agent_id,
  ownerId: row.owner_id,
  price: BigInt(row.price),
  estimatedTimeSeconds: row.estimated_time_seconds,
  status: row.status,
  createdAt: row.created_at,
});

/**
 * The open auction and the bidding agent in one statement. FOR SHARE on the auction: bids into
 * one auction do not wait for each other, but a close or cancel (FOR UPDATE) and a bid exclude
 * each other, so no bid lands in a closed auction. Only an auction still open and before
 * `expires_at` is locked: once it expires no bid holds it, and the close job (SKIP LOCKED) finds
 * it free at its next run however many late bids arrive.
 */
const readSql = `
SELECT a.status, a.expires_at, a.requester_id::text, a.capabilities, a.max_price::text,
       a.reserve_price::text, a.min_reputation, a.timeout_seconds,
       g.id::text AS agent_id, g.owner_id::text AS agent_owner, g.status AS agent_status,
       g.retired_at, g.capabilities AS agent_capabilities,
       COALESCE(s.overall_hundredths, ${neutralHundredths})::int AS reputation
FROM auctions a
LEFT JOIN agents g ON g.id = $2::uuid
LEFT JOIN agent_scores s ON s.agent_id = $2::uuid
WHERE a.id = $1::uuid AND a.status = 'open' AND a.expires_at > now()
FOR SHARE OF a`;

interface ReadRow {
  status: AuctionForBid['status'];
  expires_at: Date;
  requester_id: string;
  capabilities: string[];
  max_price: string;
  reserve_price: string | null;
  min_reputation: number;
  timeout_seconds: number;
  agent_id: string | null;
  agent_owner: string | null;
  agent_status: AgentForBid['status'] | null;
  retired_at: Date | null;
  agent_capabilities: string[] | null;
  reputation: number;
}

/** How often a bid is tried again after losing a race for the agent's live bid or its key. */
const attemptsOnRace = 3;

/**
 * Places a bid: in one transaction of plain SQL on the service's pool (no ORM on the hottest
 * write), reads the auction and agent, lets `decide` refuse, replaces the agent's live bid and
 * writes `evt.auction.bid.placed` to the outbox. Two racing bids of one agent, or two requests
 * with one Idempotency-Key, meet on a unique index; the loser runs again and then replaces the
 * winner's bid, or replays it.
 */
export async function placeBid(pool: pg.Pool, attempt: BidAttempt, decide: BidDecision): Promise<BidOutcome> {
  for (let round = 1; ; round += 1) {
    try {
      return await inTransaction(pgTransactions(pool), (client) => placeBidIn(client, attempt, decide));
    } catch (error) {
      const raced =
        isUniqueViolation(error, 'bids_one_live_per_agent') ||
        isUniqueViolation(error, 'bids_owner_id_idempotency_key_key');
      if (!raced || round >= attemptsOnRace) throw error;
    }
  }
}

async function placeBidIn(
  client: pg.PoolClient,
  attempt: BidAttempt,
  decide: BidDecision,
): Promise<BidOutcome> {
  const { rows } = await client.query<ReadRow>(readSql, [attempt.auctionId, attempt.agentId]);
  const row = rows[0];
  if (!row) {
    const exists = await client.query('SELECT 1 FROM auctions WHERE id = $1::uuid', [attempt.auctionId]);
    return { kind: exists.rows.length > 0 ? 'closed' : 'not_found' };
  }
  if (attempt.retry) {
    const earlier = await client.query<BidRow>(
      `SELECT ${bidColumns} FROM bids WHERE owner_id = $1::uuid AND idempotency_key = $2`,
      [attempt.ownerId, attempt.retry.key],
    );
    const found = earlier.rows[0];
    if (found && found.request_hash === attempt.retry.hash) return { kind: 'replay', bid: asBid(found) };
    if (found) return { kind: 'key_reused' };
  }
  const agent =
    row.agent_id && row.agent_owner === attempt.ownerId
      ? {
          id: row.agent_id,
          ownerId: row.agent_owner,
          status: row.retired_at ? ('offline' as const) : row.agent_status!,
          capabilities: row.agent_capabilities ?? [],
          reputation: row.reputation / 100,
        }
      : undefined;
  decide(
    {
      status: row.status,
      expiresAt: row.expires_at,
      requesterId: row.requester_id,
      capabilities: row.capabilities,
      maxPrice: BigInt(row.max_price),
      reservePrice: row.reserve_price === null ? null : BigInt(row.reserve_price),
      minReputation: row.min_reputation / 100,
      timeoutSeconds: row.timeout_seconds,
    },
    agent,
  );
  await client.query(
    `UPDATE bids SET status = 'replaced' WHERE auction_id = $1::uuid AND agent_id = $2::uuid AND status = 'live'`,
    [attempt.auctionId, attempt.agentId],
  );
  const inserted = await client.query<BidRow>(
    `INSERT INTO bids (id, auction_id, agent_id, owner_id, price, estimated_time_seconds, idempotency_key, request_hash)
     VALUES ($1::uuid, $2::uuid, $3::uuid, $4::uuid, $5, $6, $7, $8)
     RETURNING ${bidColumns}`,
    [
      uuidV7(),
      attempt.auctionId,
      attempt.agentId,
      attempt.ownerId,
      attempt.price.toString(),
      attempt.estimatedTimeSeconds,
      attempt.retry?.key ?? null,
      attempt.retry?.hash ?? null,
    ],
  );
  const bid = asBid(inserted.rows[0]!);
  await enqueueEvent(client, auctionEvents.bidPlaced, {
    bid_id: bid.id,
    auction_id: bid.auctionId,
    agent_id: bid.agentId,
    owner_id: bid.ownerId,
    placed_at: bid.createdAt.toISOString(),
  });
  return { kind: 'placed', bid };
}
