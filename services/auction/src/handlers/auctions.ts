import { createHash } from 'node:crypto';
import { endpoint, type HandlerContext, type Registration } from '@zerostate/bus';
import { type AuctionView, auctionEndpoints, hasRole, type Principal } from '@zerostate/contracts';
import { isUniqueViolation } from '@zerostate/database';
import { AppError } from '@zerostate/errors';
import type pg from 'pg';
import { findAgent } from '../db/agents.js';
import {
  type AuctionRecord,
  auctionsOfRequester,
  type BidRecord,
  bidsOf,
  cancelAuction,
  findAuction,
  insertAuction,
  liveBidCount,
  type NewAuction,
  openAuctionsFor,
} from '../db/auctions.js';
import { BidReadCache, placeBid } from '../db/bids.js';
import { refuseBid } from '../domain/bid-rules.js';
import type { AuctionMetrics } from '../metrics.js';
import { type AgentDependencies, requireUser } from './agents.js';

export function encodeBid(bid: BidRecord) {
  return {
    id: bid.id,
    auction_id: bid.auctionId,
    agent_id: bid.agentId,
    price: Number(bid.price),
    estimated_time_seconds: bid.estimatedTimeSeconds,
    status: bid.status,
    created_at: bid.createdAt.toISOString(),
  };
}

/**
 * An auction as `viewer` may see it (SPEC §5b): while open, the requester sees the bid count and
 * a bidder its own live bids, nobody another agent's bid; after close the requester and every
 * bidder see the outcome, the requester and admins the clearing record.
 */
async function viewOf(
  db: Parameters<typeof findAuction>[0],
  auction: AuctionRecord,
  viewer: Principal,
): Promise<AuctionView> {
  const isRequester = viewer.user_id === auction.requesterId;
  const isAdmin = viewer.kind === 'user' && hasRole(viewer, 'admin');
  const closed = auction.status !== 'open';
  const ownBids = await bidsOf(db, auction.id, {
    ownerId: viewer.user_id,
    status: { in: closed ? ['won', 'lost'] : ['live'] },
  });
  const seesOutcome = closed && (isRequester || isAdmin || ownBids.length > 0);
  const clearing = auction.clearing as AuctionView['clearing'];
  return {
    id: auction.id,
    task_id: auction.taskId,
    requester_id: auction.requesterId,
    type: auction.type,
    status: auction.status,
    capabilities: auction.capabilities,
    max_price: Number(auction.maxPrice),
    reserve_price: auction.reservePrice === null ? null : Number(auction.reservePrice),
    min_reputation: auction.minReputation / 100,
    timeout_seconds: auction.timeoutSeconds,
    created_at: auction.createdAt.toISOString(),
    expires_at: auction.expiresAt.toISOString(),
    closed_at: auction.closedAt?.toISOString() ?? null,
    bid_count: isRequester ? await liveOrFinalBidCount(db, auction) : null,
    own_bids: ownBids.map(encodeBid),
    outcome:
      seesOutcome && auction.status === 'awarded' && clearing?.winner_bid_id
        ? {
            winner_agent_id: clearing.bids.find((bid) => bid.bid_id === clearing.winner_bid_id)!.agent_id,
            winner_bid_id: clearing.winner_bid_id,
            price: Number(auction.price),
            rule: auction.type,
          }
        : null,
    clearing: closed && (isRequester || isAdmin) ? clearing : null,
  };
}

async function liveOrFinalBidCount(db: Parameters<typeof findAuction>[0], auction: AuctionRecord) {
  if (auction.status === 'open') return liveBidCount(db, auction.id);
  return (auction.clearing as AuctionView['clearing'])?.bids.length ?? 0;
}

function isBidRetry(context: HandlerContext, input: unknown) {
  if (!context.idempotencyKey) return undefined;
  return {
    key: context.idempotencyKey,
    hash: createHash('sha256').update(JSON.stringify(input)).digest('hex'),
  };
}

/** create, open-for-task, list, get, cancel, and bids. */
export function auctionRegistrations({
  prisma,
  pool,
  kickOutbox,
  metrics,
}: AgentDependencies & { pool: pg.Pool; metrics: Pick<AuctionMetrics, 'bid'> }): Registration[] {
  const fieldsOf = (input: {
    type: NewAuction['type'];
    capabilities: string[];
    max_price: number;
    reserve_price?: number | undefined;
    min_reputation: number;
    timeout_seconds: number;
    duration_seconds: number;
  }) => ({
    type: input.type,
    capabilities: input.capabilities,
    maxPrice: BigInt(input.max_price),
    reservePrice: input.reserve_price === undefined ? null : BigInt(input.reserve_price),
    minReputation: Math.round(input.min_reputation * 100),
    timeoutSeconds: input.timeout_seconds,
    durationSeconds: input.duration_seconds,
  });

  const create = endpoint(auctionEndpoints.createAuction, async (input, context) => {
    const caller = requireUser(context.principal, 'tasks:write');
    const auction = await insertAuction(prisma, {
      ...fieldsOf(input),
      taskId: null,
      requesterId: caller.user_id,
    });
    return viewOf(prisma, auction, caller);
  });

  const openForTask = endpoint(auctionEndpoints.openTaskAuction, async (input, context) => {
    const caller = context.principal;
    if (!caller) throw new AppError('UNAUTHENTICATED');
    if (caller.kind !== 'service') throw new AppError('FORBIDDEN');
    const auction = await insertAuction(prisma, {
      ...fieldsOf(input),
      taskId: input.task_id,
      requesterId: input.requester_id,
    });
    return viewOf(prisma, auction, { ...caller, user_id: auction.requesterId });
  });

  const list = endpoint(auctionEndpoints.listAuctions, async (input, context) => {
    const caller = requireUser(context.principal, 'auctions:read');
    const beforeId = input.cursor;
    if (
      beforeId !== undefined &&
      !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(beforeId)
    ) {
      throw new AppError('VALIDATION_FAILED', 'The cursor is not valid.', { details: [{ path: 'cursor' }] });
    }
    let rows: AuctionRecord[];
    if (input.agent_id) {
      const agent = await findAgent(prisma, input.agent_id);
      if (!agent || agent.ownerId !== caller.user_id) throw new AppError('NOT_FOUND');
      rows = await openAuctionsFor(prisma, agent, { limit: input.limit, beforeId });
    } else {
      rows = await auctionsOfRequester(prisma, {
        requesterId: caller.user_id,
        status: input.status,
        limit: input.limit,
        beforeId,
      });
    }
    const page = rows.slice(0, input.limit);
    return {
      items: await Promise.all(page.map((auction) => viewOf(prisma, auction, caller))),
      next_cursor: rows.length > input.limit ? (page.at(-1)?.id ?? null) : null,
    };
  });

  const get = endpoint(auctionEndpoints.getAuction, async (input, context) => {
    const caller = requireUser(context.principal, 'auctions:read');
    const auction = await findAuction(prisma, input.id);
    if (!auction) throw new AppError('NOT_FOUND');
    return viewOf(prisma, auction, caller);
  });

  const cancel = endpoint(auctionEndpoints.cancelAuction, async (input, context) => {
    const caller = requireUser(context.principal, 'tasks:write');
    const outcome = await cancelAuction(prisma, { id: input.id, requesterId: caller.user_id });
    if (outcome === 'not_found') throw new AppError('NOT_FOUND');
    if (outcome === 'closed') throw new AppError('AUCTION_CLOSED');
    kickOutbox();
    return viewOf(prisma, outcome, caller);
  });

  const cancelForTask = endpoint(auctionEndpoints.cancelTaskAuction, async (input, context) => {
    const caller = context.principal;
    if (!caller) throw new AppError('UNAUTHENTICATED');
    if (caller.kind !== 'service') throw new AppError('FORBIDDEN');
    const auction = await prisma.auction.findUnique({ where: { taskId: input.task_id } });
    if (!auction) throw new AppError('NOT_FOUND');
    const requester = { ...caller, user_id: auction.requesterId };
    if (auction.status === 'canceled')
      return viewOf(prisma, (await findAuction(prisma, auction.id))!, requester);
    const outcome = await cancelAuction(prisma, { id: auction.id, requesterId: auction.requesterId });
    if (outcome === 'not_found') throw new AppError('NOT_FOUND');
    if (outcome === 'closed') throw new AppError('AUCTION_CLOSED');
    kickOutbox();
    return viewOf(prisma, outcome, requester);
  });

  const bidReads = new BidReadCache();
  const bid = endpoint(auctionEndpoints.placeBid, async (input, context) => {
    const caller = requireUser(context.principal, 'bids:write');
    const retry = isBidRetry(context, input);
    const offer = { price: BigInt(input.price), estimatedTimeSeconds: input.estimated_time_seconds };
    const outcome = await placeBid(
      pool,
      {
        auctionId: input.id,
        agentId: input.agent_id,
        ownerId: caller.user_id,
        ...offer,
        ...(retry ? { retry } : {}),
      },
      (auction, agent) => {
        if (!agent) throw new AppError('NOT_FOUND');
        const refusal = refuseBid(auction, agent, offer, new Date());
        if (refusal?.refusal === 'ESTIMATE_TOO_LONG') {
          throw new AppError('VALIDATION_FAILED', undefined, {
            details: [
              {
                path: 'estimated_time_seconds',
                message: `at most the auction's timeout (${auction.timeoutSeconds} s)`,
              },
            ],
          });
        }
        if (refusal) {
          throw new AppError(
            refusal.refusal,
            undefined,
            refusal.missing ? { details: { missing: refusal.missing } } : {},
          );
        }
      },
      bidReads,
    ).catch((error: unknown) => {
      const refused = isUniqueViolation(error, 'bids_owner_id_idempotency_key_key')
        ? new AppError('IDEMPOTENCY_REQUEST_IN_PROGRESS')
        : error;
      metrics.bid(refused instanceof AppError ? refused.code : 'error');
      throw refused;
    });
    if (outcome.kind === 'not_found' || outcome.kind === 'closed' || outcome.kind === 'key_reused') {
      const code = (
        { not_found: 'NOT_FOUND', closed: 'AUCTION_CLOSED', key_reused: 'IDEMPOTENCY_KEY_REUSED' } as const
      )[outcome.kind];
      metrics.bid(code);
      throw new AppError(code);
    }
    if (outcome.kind === 'placed') {
      metrics.bid('placed');
      kickOutbox();
    }
    return encodeBid(outcome.bid);
  });

  return [create, openForTask, list, get, cancel, cancelForTask, bid];
}
