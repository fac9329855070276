import { auctionEvents } from '@zerostate/contracts';
import { enqueueEvent, inTransaction } from '@zerostate/database';
import { clearingRecord, type RecordTerms } from '../domain/clearing.js';
import { clear } from '../domain/pricing.js';
import type { ScoredInput } from '../domain/scoring.js';
import type { Prisma } from '../generated/prisma/client.js';
import { neutralHundredths } from './agents.js';
import type { AuctionRecord } from './auctions.js';
import type { AuctionPrisma, Transaction } from './prisma.js';

export interface CloseOutcome {
  auctionId: string;
  outcome: 'awarded' | 'expired';
  /** From expires_at to the commit, for the time-to-close histogram. */
  lateMs: number;
}

/**
 * Closes every open auction past `expires_at`, each in its own transaction: exactly once whatever
 * the number of replicas, because each takes the auction's row with SKIP LOCKED and closes it only
 * while it is still open; a replica that dies mid-close rolls back and another closes it.
 */
export async function closeDueAuctions(
  prisma: AuctionPrisma,
  options: { batch: number },
): Promise<CloseOutcome[]> {
  const due = await prisma.$queryRaw<{ id: string }[]>`
    SELECT id::text FROM auctions WHERE status = 'open' AND expires_at <= now()
    ORDER BY expires_at LIMIT ${options.batch}`;
  const outcomes: CloseOutcome[] = [];
  for (const { id } of due) {
    const outcome = await closeAuction(prisma, id);
    if (outcome) outcomes.push(outcome);
  }
  return outcomes;
}

type ClosingRow = {
  id: string;
  task_id: string | null;
  requester_id: string;
  type: AuctionRecord['type'];
  capabilities: string[];
  max_price: bigint;
  reserve_price: bigint | null;
  timeout_seconds: number;
  expires_at: Date;
};

async function closeAuction(prisma: AuctionPrisma, id: string): Promise<CloseOutcome | undefined> {
  return inTransaction(prisma, async (transaction) => {
    const [auction] = await transaction.$queryRaw<ClosingRow[]>`
      SELECT id::text, task_id::text, requester_id::text, type, capabilities, max_price, reserve_price,
             timeout_seconds, expires_at
      FROM auctions WHERE id = ${id}::uuid AND status = 'open' AND expires_at <= now()
      FOR UPDATE SKIP LOCKED`;
    if (!auction) return undefined;
    const terms: RecordTerms = {
      type: auction.type,
      maxPrice: BigInt(auction.max_price),
      reservePrice: auction.reserve_price === null ? null : BigInt(auction.reserve_price),
      timeoutSeconds: BigInt(auction.timeout_seconds),
    };
    const bids = await validBids(transaction, id);
    const clearing = clear(terms, bids);
    const closedAt = new Date();
    const record = clearingRecord(terms, bids, clearing);
    if (!clearing) {
      await transaction.auction.update({
        where: { id },
        data: { status: 'expired', closedAt, clearing: record as Prisma.InputJsonValue },
      });
      await transaction.bid.updateMany({
        where: { auctionId: id, status: 'live' },
        data: { status: 'lost' },
      });
      await enqueueEvent(transaction, auctionEvents.expired, {
        auction_id: id,
        task_id: auction.task_id,
        requester_id: auction.requester_id,
        at: closedAt.toISOString(),
      });
    } else {
      const winner = clearing.winner;
      await transaction.auction.update({
        where: { id },
        data: {
          status: 'awarded',
          closedAt,
          winnerBidId: winner.bidId,
          price: clearing.price,
          clearing: record as Prisma.InputJsonValue,
        },
      });
      await transaction.bid.update({ where: { id: winner.bidId }, data: { status: 'won' } });
      await transaction.bid.updateMany({
        where: { auctionId: id, status: 'live' },
        data: { status: 'lost' },
      });
      const winnerBid = await transaction.bid.findUniqueOrThrow({ where: { id: winner.bidId } });
      await enqueueEvent(transaction, auctionEvents.awarded, {
        auction_id: id,
        task_id: auction.task_id,
        requester_id: auction.requester_id,
        winner_agent_id: winner.agentId,
        winner_owner_id: winnerBid.ownerId,
        winner_bid_id: winner.bidId,
        price: Number(clearing.price),
        rule: auction.type,
        capabilities: auction.capabilities,
        awarded_at: closedAt.toISOString(),
      });
    }
    return {
      auctionId: id,
      outcome: clearing ? 'awarded' : 'expired',
      lateMs: closedAt.getTime() - auction.expires_at.getTime(),
    } as const;
  });
}

/**
 * The live bids of agents not deleted since, with the scores the read model holds now (50 for an
 * agent it has none for): the inputs the clearing record keeps.
 */
async function validBids(transaction: Transaction, auctionId: string): Promise<ScoredInput[]> {
  const rows = await transaction.$queryRaw<
    {
      id: string;
      agent_id: string;
      price: bigint;
      estimated_time_seconds: number;
      created_at: Date;
      reputation: number;
      quality: number;
    }[]
  >`
    SELECT b.id::text, b.agent_id::text, b.price, b.estimated_time_seconds, b.created_at,
           COALESCE(s.overall_hundredths, ${neutralHundredths})::int AS reputation,
           COALESCE(s.quality_hundredths, ${neutralHundredths})::int AS quality
    FROM bids b JOIN agents a ON a.id = b.agent_id LEFT JOIN agent_scores s ON s.agent_id = b.agent_id
    WHERE b.auction_id = ${auctionId}::uuid AND b.status = 'live' AND a.retired_at IS NULL`;
  return rows.map((row) => ({
    bidId: row.id,
    agentId: row.agent_id,
    price: BigInt(row.price),
    estimatedTimeSeconds: BigInt(row.estimated_time_seconds),
    reputation: BigInt(row.reputation),
    quality: BigInt(row.quality),
    placedAt: row.created_at,
  }));
}
