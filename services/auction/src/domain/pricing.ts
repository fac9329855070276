import {
  type AuctionTerms,
  priceTerm,
  rank,
  restOf,
  type ScoredInput,
  scoreNumerator,
  winsTie,
} from './scoring.js';

export const auctionTypes = ['first_price', 'second_price', 'reserve'] as const;
export type AuctionType = (typeof auctionTypes)[number];

export interface ClearingTerms extends AuctionTerms {
  type: AuctionType;
  reservePrice: bigint | null;
}

/** How the price was found, kept in the clearing record so it can be checked by hand. */
export type PriceComputation =
  | { rule: 'first_price'; winner_bid: string }
  | { rule: 'reserve'; winner_bid: string; reserve_price: string }
  | { rule: 'second_price'; single_bid: true; winner_bid: string }
  | {
      rule: 'second_price';
      single_bid: false;
      winner_bid: string;
      runner_up_bid_id: string;
      /** The highest price at which the winner still ranks first, before clamping. */
      critical_price: string;
      winner_wins_ties: boolean;
    };

export interface Clearing {
  ranked: ScoredInput[];
  winner: ScoredInput;
  price: bigint;
  computation: PriceComputation;
}

/**
 * Awards the auction to the best-ranked bid and prices it by the rule. `bids` are the valid ones
 * (one live bid per agent); none means no award (the auction expires).
 *
 * - first_price: the winner's bid.
 * - reserve: max(bid, reserve_price); bids under the reserve were refused, so this is the bid.
 * - second_price: the critical price, the highest price at which the winner would still rank
 *   first against the runner-up (its other terms unchanged), clamped to [its bid, max_price]; a
 *   single bid pays its bid. The charge does not depend on the winner's own price, so a bidder
 *   cannot gain by bidding other than its true cost (docs/AUCTIONS.md states the property tested).
 */
export function clear(terms: ClearingTerms, bids: readonly ScoredInput[]): Clearing | undefined {
  if (bids.length === 0) return undefined;
  const ranked = rank(terms, bids);
  const winner = ranked[0]!;
  if (terms.type === 'first_price') {
    return {
      ranked,
      winner,
      price: winner.price,
      computation: { rule: 'first_price', winner_bid: winner.price.toString() },
    };
  }
  if (terms.type === 'reserve') {
    const reserve = terms.reservePrice ?? 0n;
    return {
      ranked,
      winner,
      price: winner.price > reserve ? winner.price : reserve,
      computation: {
        rule: 'reserve',
        winner_bid: winner.price.toString(),
        reserve_price: reserve.toString(),
      },
    };
  }
  const runnerUp = ranked[1];
  if (!runnerUp) {
    return {
      ranked,
      winner,
      price: winner.price,
      computation: { rule: 'second_price', single_bid: true, winner_bid: winner.price.toString() },
    };
  }
  const critical = criticalPrice(terms, winner, runnerUp);
  const price =
    critical < winner.price ? winner.price : critical > terms.maxPrice ? terms.maxPrice : critical;
  return {
    ranked,
    winner,
    price,
    computation: {
      rule: 'second_price',
      single_bid: false,
      winner_bid: winner.price.toString(),
      runner_up_bid_id: runnerUp.bidId,
      critical_price: critical.toString(),
      winner_wins_ties: winsTie(winner, runnerUp),
    },
  };
}

/**
 * The largest integer price p at which the winner, with its other terms, still ranks before the
 * runner-up: priceTerm(p) + rest_w > N_r, or ≥ when the winner wins a tie. With
 * K = 40 · 10,000 · timeout, priceTerm(p) = K · (max_price − p), so
 *   p ≤ max_price − ⌈(N_r − rest_w) / K⌉  (winner wins ties), or
 *   p ≤ max_price − ⌊(N_r − rest_w) / K⌋ − 1  (otherwise).
 */
export function criticalPrice(terms: AuctionTerms, winner: ScoredInput, runnerUp: ScoredInput): bigint {
  const perMicro = priceTerm(terms, terms.maxPrice - 1n);
  const gap = scoreNumerator(terms, runnerUp) - restOf(terms, winner);
  const wins = winsTie(winner, runnerUp);
  return terms.maxPrice - (wins ? ceilDiv(gap, perMicro) : floorDiv(gap, perMicro) + 1n);
}

function floorDiv(numerator: bigint, divisor: bigint): bigint {
  const quotient = numerator / divisor;
  return numerator % divisor !== 0n && numerator < 0n !== divisor < 0n ? quotient - 1n : quotient;
}

function ceilDiv(numerator: bigint, divisor: bigint): bigint {
  return -floorDiv(-numerator, divisor);
}
