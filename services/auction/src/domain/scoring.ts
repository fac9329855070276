/**
 * The composite score of a bid and the price the winner pays (SPEC §4.3), in exact integer
 * arithmetic so that anyone holding a clearing record recomputes the same award to the last
 * micro-credit. docs/AUCTIONS.md states the rules with a worked example.
 *
 *   score = 0.40 · (1 − price / max_price) + 0.30 · reputation / 100 + 0.20 · quality / 100
 *         + 0.10 · (1 − eta / timeout)
 *
 * Reputation and quality are read with two decimals (hundredths, 0–10,000). Every term is then a
 * ratio with the same denominator within one auction, D = 100 · max_price · 10,000 · timeout, so
 * scores compare as integers: `numerator` below is score · D.
 */

export const weights = { price: 40n, reputation: 30n, quality: 20n, time: 10n } as const;
/** Reputation and quality in hundredths (0–10,000): 87.25 → 8,725. */
export const hundredthsPerPoint = 100n;
const pointScale = 100n * hundredthsPerPoint;

export interface AuctionTerms {
  /** Micro-credits; every bid is at most this. */
  maxPrice: bigint;
  /** Seconds; every estimate is 1 to this. */
  timeoutSeconds: bigint;
}

export interface ScoredInput {
  bidId: string;
  agentId: string;
  price: bigint;
  estimatedTimeSeconds: bigint;
  /** 0–10,000 hundredths of a point. */
  reputation: bigint;
  quality: bigint;
  /** Placement order: earlier bids win ties. */
  placedAt: Date;
}

/** score · D for a bid: the price term plus `restOf` (the terms that do not depend on price). */
export function scoreNumerator(terms: AuctionTerms, bid: ScoredInput): bigint {
  return priceTerm(terms, bid.price) + restOf(terms, bid);
}

/** 40 · (max_price − price) · 10,000 · timeout: the price term, times D. */
export function priceTerm(terms: AuctionTerms, price: bigint): bigint {
  return weights.price * (terms.maxPrice - price) * pointScale * terms.timeoutSeconds;
}

/** The reputation, quality and time terms, times D. */
export function restOf(terms: AuctionTerms, bid: ScoredInput): bigint {
  const { maxPrice, timeoutSeconds } = terms;
  return (
    weights.reputation * bid.reputation * maxPrice * timeoutSeconds +
    weights.quality * bid.quality * maxPrice * timeoutSeconds +
    weights.time * (timeoutSeconds - bid.estimatedTimeSeconds) * maxPrice * pointScale
  );
}

/** D: score = numerator / D. */
export function denominator(terms: AuctionTerms): bigint {
  return 100n * terms.maxPrice * pointScale * terms.timeoutSeconds;
}

/** A score as a decimal string with 6 places (display and records only; decisions use numerators). */
export function scoreText(terms: AuctionTerms, numerator: bigint): string {
  const millionths = (numerator * 1_000_000n) / denominator(terms);
  const whole = millionths / 1_000_000n;
  return `${whole}.${(millionths % 1_000_000n).toString().padStart(6, '0')}`;
}

/**
 * Ranking: higher score first; on equal scores the earlier bid, then the lower agent id. A strict
 * order, so every bid has one place and the award is unique.
 */
export function ranksBefore(terms: AuctionTerms, left: ScoredInput, right: ScoredInput): boolean {
  const difference = scoreNumerator(terms, left) - scoreNumerator(terms, right);
  if (difference !== 0n) return difference > 0n;
  return winsTie(left, right);
}

/** Who wins when two scores are equal: the earlier bid, then the lower agent id. */
export function winsTie(left: ScoredInput, right: ScoredInput): boolean {
  const time = left.placedAt.getTime() - right.placedAt.getTime();
  if (time !== 0) return time < 0;
  return left.agentId < right.agentId;
}

export function rank(terms: AuctionTerms, bids: readonly ScoredInput[]): ScoredInput[] {
  return [...bids].sort((left, right) => (ranksBefore(terms, left, right) ? -1 : 1));
}
