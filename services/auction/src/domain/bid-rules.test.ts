import { describe, expect, it } from 'vitest';
import { type AgentForBid, type AuctionForBid, isHeartbeatStale, refuseBid } from './bid-rules.js';

const now = new Date('2026-12-03T12:00:00Z');
const auction: AuctionForBid = {
  status: 'open',
  expiresAt: new Date(now.getTime() + 30_000),
  requesterId: 'requester',
  capabilities: ['text.upper', 'text.count'],
  maxPrice: 1_000n,
  reservePrice: 100n,
  minReputation: 40,
  timeoutSeconds: 30,
};
const agent: AgentForBid = {
  ownerId: 'owner',
  status: 'online',
  capabilities: ['text.count', 'text.upper', 'x'],
  reputation: 50,
};
const offer = { price: 500n, estimatedTimeSeconds: 10 };

describe('who may bid', () => {
  it('when everything fits, then the bid is accepted', () => {
    expect(refuseBid(auction, agent, offer, now)).toBeUndefined();
  });

  it.each([
    ['the auction is closed', { auction: { status: 'awarded' as const } }, 'AUCTION_CLOSED'],
    ['expires_at has passed though not yet closed', { auction: { expiresAt: now } }, 'AUCTION_CLOSED'],
    ["it is the requester's own agent", { agent: { ownerId: 'requester' } }, 'SELF_BIDDING'],
    ['the agent is busy', { agent: { status: 'busy' as const } }, 'AGENT_UNAVAILABLE'],
    ['the agent is offline', { agent: { status: 'offline' as const } }, 'AGENT_UNAVAILABLE'],
    ['a capability is missing', { agent: { capabilities: ['text.upper'] } }, 'CAPABILITY_MISSING'],
    ['its reputation is under the minimum', { agent: { reputation: 39.99 } }, 'REPUTATION_TOO_LOW'],
    ['the price is above max_price', { offer: { price: 1_001n } }, 'BID_ABOVE_MAX_PRICE'],
    ['the price is under the reserve', { offer: { price: 99n } }, 'BID_BELOW_RESERVE'],
    ['the estimate is longer than the timeout', { offer: { estimatedTimeSeconds: 31 } }, 'ESTIMATE_TOO_LONG'],
  ])('when %s, then %s', (_case, change, refusal) => {
    const decision = refuseBid(
      { ...auction, ...('auction' in change ? change.auction : {}) },
      { ...agent, ...('agent' in change ? change.agent : {}) },
      { ...offer, ...('offer' in change ? change.offer : {}) },
      now,
    );
    expect(decision?.refusal).toBe(refusal);
  });

  it('when a capability is missing, then the refusal names it', () => {
    expect(refuseBid(auction, { ...agent, capabilities: ['text.upper'] }, offer, now)).toEqual({
      refusal: 'CAPABILITY_MISSING',
      missing: ['text.count'],
    });
  });

  it('when the boundaries are met exactly, then the bid is accepted', () => {
    const edge = { ...auction, minReputation: 50 };
    expect(refuseBid(edge, agent, { price: 1_000n, estimatedTimeSeconds: 30 }, now)).toBeUndefined();
    expect(refuseBid(edge, agent, { price: 100n, estimatedTimeSeconds: 1 }, now)).toBeUndefined();
  });
});

describe('heartbeats', () => {
  it('when three intervals pass without one, then the agent is stale; at exactly three it is not', () => {
    const interval = 30_000;
    expect(isHeartbeatStale(new Date(now.getTime() - 3 * interval), now, interval)).toBe(false);
    expect(isHeartbeatStale(new Date(now.getTime() - 3 * interval - 1), now, interval)).toBe(true);
  });
});
