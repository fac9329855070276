import { z } from 'zod';
import { timestamp, uuid } from './common.js';
import { defineEvent } from './endpoint.js';
import { capabilitiesSchema } from './task.js';

/**
 * The auction service's events (its endpoints come with the auction service). Reputation counts
 * bids and wins from them, learns each agent's owner and capabilities (for the leaderboard by
 * capability) and learns who requested a task from its award.
 */

const amountMicro = z.int().min(0).max(Number.MAX_SAFE_INTEGER);

export const agentStatuses = ['online', 'busy', 'offline', 'maintenance'] as const;

export const auctionAwardedSchema = z.object({
  auction_id: uuid,
  /** Null for an auction opened directly, not for a task. */
  task_id: uuid.nullable(),
  requester_id: uuid,
  winner_agent_id: uuid,
  winner_owner_id: uuid,
  winner_bid_id: uuid,
  /** What the winner is charged, in micro-credits. */
  price: amountMicro,
  rule: z.enum(['first_price', 'second_price', 'reserve']),
  capabilities: capabilitiesSchema,
  awarded_at: timestamp,
});
export type AuctionAwarded = z.infer<typeof auctionAwardedSchema>;

export const bidPlacedSchema = z.object({
  bid_id: uuid,
  auction_id: uuid,
  agent_id: uuid,
  owner_id: uuid,
  placed_at: timestamp,
});
export type BidPlaced = z.infer<typeof bidPlacedSchema>;

/**
 * An agent's profile as reputation needs it. `updated_at` orders the events: a consumer keeps the
 * newest and ignores an older one that arrives late.
 */
export const agentProfileSchema = z.object({
  agent_id: uuid,
  owner_id: uuid,
  capabilities: capabilitiesSchema,
  status: z.enum(agentStatuses),
  updated_at: timestamp,
});
export type AgentProfile = z.infer<typeof agentProfileSchema>;

export const auctionEvents = {
  awarded: defineEvent('evt.auction.auction.awarded', auctionAwardedSchema),
  bidPlaced: defineEvent('evt.auction.bid.placed', bidPlacedSchema),
  agentRegistered: defineEvent('evt.auction.agent.registered', agentProfileSchema),
  agentUpdated: defineEvent('evt.auction.agent.updated', agentProfileSchema),
} as const;
