import { auctionEvents } from '@zerostate/contracts';
import { enqueueEvent, inTransaction, uuidV7 } from '@zerostate/database';
import type { Prisma } from '../generated/prisma/client.js';
import type { AuctionPrisma, Transaction } from './prisma.js';

export type AuctionStatus = 'open' | 'awarded' | 'expired' | 'canceled';
export type AuctionType = 'first_price' | 'second_price' | 'reserve';

export interface AuctionRecord {
  id: string;
  taskId: string | null;
  requesterId: string;
  type: AuctionType;
  status: AuctionStatus;
  capabilities: string[];
  maxPrice: bigint;
  reservePrice: bigint | null;
  /** Hundredths of a reputation point (0–10,000). */
  minReputation: number;
  timeoutSeconds: number;
  createdAt: Date;
  expiresAt: Date;
  closedAt: Date | null;
  winnerBidId: string | null;
  price: bigint | null;
  clearing: Record<string, unknown> | null;
}

export interface BidRecord {
  id: string;
  auctionId: string;
  agentId: string;
  ownerId: string;
  price: bigint;
  estimatedTimeSeconds: number;
  status: 'live' | 'replaced' | 'won' | 'lost';
  createdAt: Date;
}

type Db = AuctionPrisma | Transaction;

const asAuction = (row: Awaited<ReturnType<Db['auction']['findUniqueOrThrow']>>): AuctionRecord => ({
  ...row,
  type: row.type as AuctionType,
  status: row.status as AuctionStatus,
  clearing: row.clearing as Record<string, unknown> | null,
});
const asBid = (row: Awaited<ReturnType<Db['bid']['findUniqueOrThrow']>>): BidRecord => ({
  id: row.id,
  auctionId: row.auctionId,
  agentId: row.agentId,
  ownerId: row.ownerId,
  price: row.price,
  estimatedTimeSeconds: row.estimatedTimeSeconds,
  status: row.status as BidRecord['status'],
  createdAt: row.createdAt,
});

export interface NewAuction {
  taskId: string | null;
  requesterId: string;
  type: AuctionType;
  capabilities: string[];
  maxPrice: bigint;
  reservePrice: bigint | null;
  minReputation: number;
  timeoutSeconds: number;
  durationSeconds: number;
}

/** Opens an auction; for a task, again for the same task answers the one it made. */
export async function insertAuction(prisma: AuctionPrisma, auction: NewAuction): Promise<AuctionRecord> {
  const { durationSeconds, ...fields } = auction;
  if (auction.taskId) {
    const existing = await prisma.auction.findUnique({ where: { taskId: auction.taskId } });
    if (existing) return asAuction(existing);
  }
  const row = await prisma.auction
    .create({
      data: { id: uuidV7(), ...fields, expiresAt: new Date(Date.now() + durationSeconds * 1000) },
    })
    .catch(async (error: unknown) => {
      // A concurrent open for the same task won: answer its auction.
      const winner = auction.taskId
        ? await prisma.auction.findUnique({ where: { taskId: auction.taskId } })
        : null;
      if (winner) return winner;
      throw error;
    });
  return asAuction(row);
}

export async function findAuction(db: Db, id: string): Promise<AuctionRecord | undefined> {
  const row = await db.auction.findUnique({ where: { id } });
  return row ? asAuction(row) : undefined;
}

export async function lockAuction(transaction: Transaction, id: string): Promise<AuctionRecord | undefined> {
  const locked = await transaction.$queryRaw<
    { id: string }[]
  >`SELECT id::text FROM auctions WHERE id = ${id}::uuid FOR UPDATE`;
  return locked.length > 0 ? findAuction(transaction, id) : undefined;
}

export async function bidsOf(
  db: Db,
  auctionId: string,
  where: Prisma.BidWhereInput = {},
): Promise<BidRecord[]> {
  const rows = await db.bid.findMany({ where: { auctionId, ...where }, orderBy: { id: 'asc' } });
  return rows.map(asBid);
}

export async function liveBidCount(db: Db, auctionId: string): Promise<number> {
  return db.bid.count({ where: { auctionId, status: 'live' } });
}

/** Cancels an open auction of `requesterId`. */
export function cancelAuction(
  prisma: AuctionPrisma,
  options: { id: string; requesterId: string },
): Promise<AuctionRecord | 'not_found' | 'closed'> {
  return inTransaction(prisma, async (transaction) => {
    const auction = await lockAuction(transaction, options.id);
    if (!auction || auction.requesterId !== options.requesterId) return 'not_found' as const;
    if (auction.status !== 'open' || auction.expiresAt.getTime() <= Date.now()) return 'closed' as const;
    const row = await transaction.auction.update({
      where: { id: auction.id },
      data: { status: 'canceled', closedAt: new Date() },
    });
    await transaction.bid.updateMany({
      where: { auctionId: auction.id, status: 'live' },
      data: { status: 'lost' },
    });
    await enqueueEvent(transaction, auctionEvents.canceled, {
      auction_id: auction.id,
      task_id: auction.taskId,
      requester_id: auction.requesterId,
      at: row.closedAt!.toISOString(),
    });
    return asAuction(row);
  });
}

/** Open auctions an agent could bid on (it holds every capability, reputation high enough), newest first. */
export async function openAuctionsFor(
  prisma: AuctionPrisma,
  agent: { capabilities: string[]; reputationHundredths: number },
  page: { limit: number; beforeId: string | undefined },
): Promise<AuctionRecord[]> {
  const ids = await prisma.$queryRaw<{ id: string }[]>`
    SELECT id::text FROM auctions
    WHERE status = 'open' AND expires_at > now() AND min_reputation <= ${agent.reputationHundredths}
      AND capabilities <@ ${agent.capabilities}::text[]
      AND (${page.beforeId ?? null}::uuid IS NULL OR id < ${page.beforeId ?? null}::uuid)
    ORDER BY id DESC LIMIT ${page.limit + 1}`;
  const rows = await prisma.auction.findMany({
    where: { id: { in: ids.map((row) => row.id) } },
    orderBy: { id: 'desc' },
  });
  return rows.map(asAuction);
}

export async function auctionsOfRequester(
  prisma: AuctionPrisma,
  query: {
    requesterId: string;
    status: AuctionStatus | undefined;
    limit: number;
    beforeId: string | undefined;
  },
): Promise<AuctionRecord[]> {
  const rows = await prisma.auction.findMany({
    where: {
      requesterId: query.requesterId,
      ...(query.status ? { status: query.status } : {}),
      ...(query.beforeId ? { id: { lt: query.beforeId } } : {}),
    },
    orderBy: { id: 'desc' },
    take: query.limit + 1,
  });
  return rows.map(asAuction);
}
