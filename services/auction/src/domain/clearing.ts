import type { ClearingRecord } from '@zerostate/contracts';
import { type AuctionType, type Clearing, clear } from './pricing.js';
import {
  type AuctionTerms,
  hundredthsPerPoint,
  type ScoredInput,
  scoreNumerator,
  scoreText,
} from './scoring.js';

export interface RecordTerms extends AuctionTerms {
  type: AuctionType;
  reservePrice: bigint | null;
}

/** SPEC §5b `clearing`: every valid bid with its inputs and score, the rule and the price computation. */
export function clearingRecord(
  terms: RecordTerms,
  bids: readonly ScoredInput[],
  clearing: Clearing | undefined,
): ClearingRecord {
  return {
    rule: terms.type,
    max_price: Number(terms.maxPrice),
    reserve_price: terms.reservePrice === null ? null : Number(terms.reservePrice),
    timeout_seconds: Number(terms.timeoutSeconds),
    bids: (clearing?.ranked ?? bids).map((bid) => ({
      bid_id: bid.bidId,
      agent_id: bid.agentId,
      price: Number(bid.price),
      estimated_time_seconds: Number(bid.estimatedTimeSeconds),
      reputation: Number(bid.reputation) / Number(hundredthsPerPoint),
      quality: Number(bid.quality) / Number(hundredthsPerPoint),
      placed_at: bid.placedAt.toISOString(),
      score: scoreText(terms, scoreNumerator(terms, bid)),
    })),
    winner_bid_id: clearing?.winner.bidId ?? null,
    price: clearing ? Number(clearing.price) : null,
    price_computation: clearing?.computation ?? null,
  };
}

/** One field where a stored clearing and its recomputation disagree. */
export interface ClearingDifference {
  /** Where, as a JSON path into the record (`price`, `bids[1].score`, `award.price`). */
  path: string;
  stored: unknown;
  recomputed: unknown;
}

/**
 * Recomputes a stored clearing from its own inputs (the bids with the reputation and quality they
 * were scored with, the rule and the terms) with the code that awards auctions, and lists every
 * difference: in the ranking, the scores, the winner, the price or its computation, and between
 * the record and the award stored beside it. An empty list means anyone can reproduce the award.
 */
export function verifyClearing(
  stored: ClearingRecord,
  award: { winnerBidId: string | null; price: bigint | null },
): ClearingDifference[] {
  const terms: RecordTerms = {
    type: stored.rule,
    maxPrice: BigInt(stored.max_price),
    reservePrice: stored.reserve_price === null ? null : BigInt(stored.reserve_price),
    timeoutSeconds: BigInt(stored.timeout_seconds),
  };
  const inputs: ScoredInput[] = stored.bids.map((bid) => ({
    bidId: bid.bid_id,
    agentId: bid.agent_id,
    price: BigInt(bid.price),
    estimatedTimeSeconds: BigInt(bid.estimated_time_seconds),
    reputation: BigInt(Math.round(bid.reputation * Number(hundredthsPerPoint))),
    quality: BigInt(Math.round(bid.quality * Number(hundredthsPerPoint))),
    placedAt: new Date(bid.placed_at),
  }));
  const recomputed = clearingRecord(terms, inputs, clear(terms, inputs));
  const differences: ClearingDifference[] = [];
  const { bids: storedBids, ...storedRest } = stored;
  const { bids: recomputedBids, ...recomputedRest } = recomputed;
  compare('', storedRest, recomputedRest, differences);
  // Bids by id, so a changed input shows as that bid's score and the ranking it moves.
  const order = (list: readonly { bid_id: string }[]) => list.map((each) => each.bid_id);
  if (order(storedBids).join() !== order(recomputedBids).join()) {
    differences.push({ path: 'bids.order', stored: order(storedBids), recomputed: order(recomputedBids) });
  }
  const recomputedById = new Map(recomputedBids.map((each) => [each.bid_id, each]));
  for (const each of storedBids) {
    compare(`bids[${each.bid_id}]`, each, recomputedById.get(each.bid_id), differences);
  }
  const storedPrice = award.price === null ? null : Number(award.price);
  if (award.winnerBidId !== recomputed.winner_bid_id) {
    differences.push({
      path: 'award.winner_bid_id',
      stored: award.winnerBidId,
      recomputed: recomputed.winner_bid_id,
    });
  }
  if (storedPrice !== recomputed.price) {
    differences.push({ path: 'award.price', stored: storedPrice, recomputed: recomputed.price });
  }
  return differences;
}

function compare(path: string, stored: unknown, recomputed: unknown, into: ClearingDifference[]): void {
  if (isContainer(stored) && isContainer(recomputed) && Array.isArray(stored) === Array.isArray(recomputed)) {
    const keys = new Set([...Object.keys(stored), ...Object.keys(recomputed)]);
    for (const key of keys) {
      const child = Array.isArray(stored) ? `${path}[${key}]` : path === '' ? key : `${path}.${key}`;
      compare(
        child,
        (stored as Record<string, unknown>)[key],
        (recomputed as Record<string, unknown>)[key],
        into,
      );
    }
    return;
  }
  if (stored !== recomputed) into.push({ path, stored, recomputed });
}

function isContainer(value: unknown): value is object {
  return typeof value === 'object' && value !== null;
}
