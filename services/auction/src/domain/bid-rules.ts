/**
 * Whether an agent may bid on an auction (SPEC §5b "Bids"), as one pure decision the handler runs
 * on rows it read under the auction's lock. Each refusal has its own code; when several apply the
 * first in this order is answered: the auction's state, who is bidding, the agent, the price.
 */

export type BidRefusal =
  | 'AUCTION_CLOSED'
  | 'SELF_BIDDING'
  | 'AGENT_UNAVAILABLE'
  | 'CAPABILITY_MISSING'
  | 'REPUTATION_TOO_LOW'
  | 'BID_ABOVE_MAX_PRICE'
  | 'BID_BELOW_RESERVE'
  | 'ESTIMATE_TOO_LONG';

export interface AuctionForBid {
  status: 'open' | 'closed' | 'awarded' | 'expired' | 'canceled';
  expiresAt: Date;
  requesterId: string;
  capabilities: readonly string[];
  maxPrice: bigint;
  reservePrice: bigint | null;
  /** 0–100. */
  minReputation: number;
  timeoutSeconds: number;
}

export interface AgentForBid {
  ownerId: string;
  status: 'online' | 'busy' | 'offline' | 'maintenance';
  capabilities: readonly string[];
  /** 0–100; 50 until the reputation service has scored it. */
  reputation: number;
}

export interface BidOffer {
  price: bigint;
  estimatedTimeSeconds: number;
}

export function refuseBid(
  auction: AuctionForBid,
  agent: AgentForBid,
  offer: BidOffer,
  now: Date,
): { refusal: BidRefusal; missing?: string[] } | undefined {
  if (auction.status !== 'open' || now.getTime() >= auction.expiresAt.getTime())
    return { refusal: 'AUCTION_CLOSED' };
  if (agent.ownerId === auction.requesterId) return { refusal: 'SELF_BIDDING' };
  if (agent.status !== 'online') return { refusal: 'AGENT_UNAVAILABLE' };
  const missing = auction.capabilities.filter((capability) => !agent.capabilities.includes(capability));
  if (missing.length > 0) return { refusal: 'CAPABILITY_MISSING', missing };
  if (agent.reputation < auction.minReputation) return { refusal: 'REPUTATION_TOO_LOW' };
  if (offer.price > auction.maxPrice) return { refusal: 'BID_ABOVE_MAX_PRICE' };
  if (auction.reservePrice !== null && offer.price < auction.reservePrice)
    return { refusal: 'BID_BELOW_RESERVE' };
  if (offer.estimatedTimeSeconds > auction.timeoutSeconds) return { refusal: 'ESTIMATE_TOO_LONG' };
  return undefined;
}

/** An agent is offline once three heartbeat intervals passed without one (SPEC §4.3). */
export const missedHeartbeatsBeforeOffline = 3;

export function isHeartbeatStale(lastSeenAt: Date, now: Date, intervalMs: number): boolean {
  return now.getTime() - lastSeenAt.getTime() > missedHeartbeatsBeforeOffline * intervalMs;
}
