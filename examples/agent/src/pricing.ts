/** What the agent knows of an auction when it bids (from `GET /auctions`). */
export interface AuctionTerms {
  type: 'first_price' | 'second_price' | 'reserve';
  max_price: number;
  reserve_price: number | null;
  timeout_seconds: number;
}

export interface PricingRule {
  /** The agent's true cost of a task, in micro-credits: it never works for less. */
  cost: number;
  /** Under first price the agent is paid its bid, so it asks this share of the room above cost. */
  firstPriceMarkup: number;
}

/**
 * The agent's bid, or undefined when the auction cannot pay its cost. Under the truthful second
 * price rule bidding the true cost is best (docs/AUCTIONS.md: the charge does not depend on the
 * winner's own bid); under first price it shades up by the markup; with a reserve, never below it.
 */
export function bidPrice(terms: AuctionTerms, rule: PricingRule): number | undefined {
  const floor = Math.max(rule.cost, terms.reserve_price ?? 0);
  if (floor > terms.max_price) return undefined;
  if (terms.type !== 'first_price') return floor;
  return Math.min(terms.max_price, Math.round(floor + (terms.max_price - floor) * rule.firstPriceMarkup));
}
