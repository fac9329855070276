import { auctionEvents } from '@zerostate/contracts';
import {
  inTransaction,
  isUniqueViolation,
  outboxInsertOf,
  pgTransactions,
  uuidV7,
} from '@zerostate/database';
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

/**
 * Everything a bid is decided on, in one statement: the auction, the bidding agent with its score
 * and the earlier bid of the same Idempotency-Key, if any. It locks the agent's row, so one
 * agent's bids run one after another and the write below, a later statement, sees the agent's
 * live bid as its predecessor left it; bids of different agents do not wait for each other.
 */
const readSql = `
SELECT a.status, a.expires_at, a.requester_id::text, a.capabilities, a.max_price::text,
       a.reserve_price::text, a.min_reputation, a.timeout_seconds,
       g.id::text AS agent_id, g.owner_id::text AS agent_owner, g.status AS agent_status,
       g.retired_at, g.capabilities AS agent_capabilities,
       COALESCE(s.overall_hundredths, ${neutralHundredths})::int AS reputation,
       e.id::text AS earlier_id, e.price::text AS earlier_price, e.estimated_time_seconds AS earlier_estimate,
       e.status AS earlier_status, e.created_at AS earlier_created_at, e.request_hash AS earlier_hash
FROM auctions a
JOIN agents g ON g.id = $2::uuid
LEFT JOIN agent_scores s ON s.agent_id = $2::uuid
LEFT JOIN bids e ON e.owner_id = $3::uuid AND e.idempotency_key = $4
WHERE a.id = $1::uuid
FOR NO KEY UPDATE OF g`;

interface ReadRow {
  status: AuctionForBid['status'];
  expires_at: Date;
  requester_id: string;
  capabilities: string[];
  max_price: string;
  reserve_price: string | null;
  min_reputation: number;
  timeout_seconds: number;
  agent_id: string;
  agent_owner: string;
  agent_status: AgentForBid['status'];
  retired_at: Date | null;
  agent_capabilities: string[];
  reputation: number;
  earlier_id: string | null;
  earlier_price: string | null;
  earlier_estimate: number | null;
  earlier_status: BidRecord['status'] | null;
  earlier_created_at: Date | null;
  earlier_hash: string | null;
}

/**
 * The write, in one statement: under a share lock on the auction, taken only while it is open and
 * before `expires_at`, the agent's live bid becomes `replaced`, the new bid is inserted and its
 * `evt.auction.bid.placed` goes to the outbox with the bid's own timestamp. No row back means the
 * auction closed since the read. Bids into one auction do not wait for each other;
 * a close or cancel (FOR UPDATE) and a bid exclude each other, so no bid lands in a closed
 * auction, and once it expires no bid takes the lock, so the close job (SKIP LOCKED) finds it free
 * at its next run however many late bids arrive.
 */
const writeSql = `
WITH auction AS (
  SELECT id FROM auctions
  WHERE id = $1::uuid AND status = 'open' AND expires_at > now()
  FOR SHARE
), replaced AS (
  UPDATE bids SET status = 'replaced'
  WHERE auction_id = $1::uuid AND agent_id = $2::uuid AND status = 'live' AND EXISTS (SELECT 1 FROM auction)
  RETURNING id
), placed AS (
  INSERT INTO bids (id, auction_id, agent_id, owner_id, price, estimated_time_seconds, idempotency_key, request_hash)
  SELECT $3::uuid, $1::uuid, $2::uuid, $4::uuid, $5, $6, $7, $8
  FROM auction, (SELECT count(*) FROM replaced) AS replacing
  RETURNING created_at
), event AS (
  INSERT INTO outbox (id, subject, payload, headers)
  SELECT $9::uuid, $10,
         jsonb_set($11::jsonb, '{placed_at}',
                   to_jsonb(to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))),
         $12::jsonb
  FROM placed
)
SELECT created_at FROM placed`;

/** How often a bid is tried again after two requests with one Idempotency-Key met on its index. */
const attempts = 3;
/** Stands in for the bid's timestamp while the event payload is checked; the write sets the real one. */
const placedAtPlaceholder = new Date(0).toISOString();

/**
 * Places a bid in one transaction of two statements of plain SQL on the service's pool (no ORM
 * on the hottest write): the read, `decide` (throw to refuse), then the write above. Both are
 * named statements, parsed and planned once per connection: unnamed, Postgres spent more time
 * parsing and planning them than running them. Two requests
 * with one Idempotency-Key meet on its unique index; the loser runs again and replays the
 * winner's bid.
 */
export async function placeBid(pool: pg.Pool, attempt: BidAttempt, decide: BidDecision): Promise<BidOutcome> {
  for (let round = 1; ; round += 1) {
    try {
      return await inTransaction(pgTransactions(pool), (client) => placeBidIn(client, attempt, decide));
    } catch (error) {
      if (!isUniqueViolation(error, 'bids_owner_id_idempotency_key_key') || round >= attempts) throw error;
    }
  }
}

async function placeBidIn(
  client: pg.PoolClient,
  attempt: BidAttempt,
  decide: BidDecision,
): Promise<BidOutcome> {
  const { rows } = await client.query<ReadRow>({
    name: 'auction_bid_read',
    text: readSql,
    values: [attempt.auctionId, attempt.agentId, attempt.ownerId, attempt.retry?.key ?? null],
  });
  const row = rows[0];
  if (!row) return { kind: 'not_found' };
  if (attempt.retry && row.earlier_id) {
    if (row.earlier_hash !== attempt.retry.hash) return { kind: 'key_reused' };
    return {
      kind: 'replay',
      bid: {
        id: row.earlier_id,
        auctionId: attempt.auctionId,
        agentId: attempt.agentId,
        ownerId: attempt.ownerId,
        price: BigInt(row.earlier_price!),
        estimatedTimeSeconds: row.earlier_estimate!,
        status: row.earlier_status!,
        createdAt: row.earlier_created_at!,
      },
    };
  }
  const agent =
    row.agent_owner === attempt.ownerId
      ? {
          id: row.agent_id,
          ownerId: row.agent_owner,
          status: row.retired_at ? ('offline' as const) : row.agent_status,
          capabilities: row.agent_capabilities,
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
  const id = uuidV7();
  const event = outboxInsertOf(auctionEvents.bidPlaced, {
    bid_id: id,
    auction_id: attempt.auctionId,
    agent_id: attempt.agentId,
    owner_id: attempt.ownerId,
    placed_at: placedAtPlaceholder,
  });
  const written = await client.query<{ created_at: Date }>({
    name: 'auction_bid_write',
    text: writeSql,
    values: [
      attempt.auctionId,
      attempt.agentId,
      id,
      attempt.ownerId,
      attempt.price.toString(),
      attempt.estimatedTimeSeconds,
      attempt.retry?.key ?? null,
      attempt.retry?.hash ?? null,
      event.id,
      event.subject,
      event.payloadJson,
      event.headersJson,
    ],
  });
  const placed = written.rows[0];
  if (!placed) return { kind: 'closed' };
  return {
    kind: 'placed',
    bid: {
      id,
      auctionId: attempt.auctionId,
      agentId: attempt.agentId,
      ownerId: attempt.ownerId,
      price: attempt.price,
      estimatedTimeSeconds: attempt.estimatedTimeSeconds,
      status: 'live',
      createdAt: placed.created_at,
    },
  };
}
