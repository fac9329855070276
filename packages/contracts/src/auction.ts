import { z } from 'zod';
import { emptyResponse, pageOf, pageRequest, timestamp, uuid } from './common.js';
import { defineEndpoint, defineEvent } from './endpoint.js';
import { capabilitiesSchema, capabilitySchema } from './task.js';

/**
 * The auction service: the agent registry (SPEC §5b "Agents"), and its events. Reputation counts
 * bids and wins from the events, learns each agent's owner and capabilities (for the leaderboard
 * by capability) and learns who requested a task from its award.
 */

const amountMicro = z.int().min(0).max(Number.MAX_SAFE_INTEGER);

export const agentStatuses = ['online', 'busy', 'offline', 'maintenance'] as const;

/** Ids are stored and compared lower-case, whatever case the caller sent. */
const lowerUuid = uuid.transform((value) => value.toLowerCase());

/** Capabilities of a registration: 1–32 distinct strings (SPEC §5b). */
const distinctCapabilities = capabilitiesSchema.refine(
  (list) => new Set(list).size === list.length,
  'capabilities must be distinct',
);

/** At most 4 KiB of JSON. */
const metadataSchema = z
  .record(z.string(), z.unknown())
  .refine(
    (value) => Buffer.byteLength(JSON.stringify(value)) <= 4_096,
    'metadata must be at most 4 KiB of JSON',
  );

/** An Ed25519 public key: 32 bytes, base64url without padding. */
const ed25519PublicKey = z
  .string()
  .regex(/^[A-Za-z0-9_-]{43}$/, 'an Ed25519 public key: 32 bytes, base64url without padding');

const agentFields = {
  name: z.string().trim().min(1).max(100),
  description: z.string().max(2_000).optional(),
  capabilities: distinctCapabilities,
  price_per_task: amountMicro,
  max_capacity: z.int().min(1).max(1_000).optional(),
  region: z.string().trim().min(1).max(32).optional(),
  metadata: metadataSchema.optional(),
};

export const agentSchema = z.object({
  id: uuid,
  did: z.string(),
  owner_id: uuid,
  name: z.string(),
  description: z.string().nullable(),
  capabilities: z.array(z.string()),
  price_per_task: amountMicro,
  status: z.enum(agentStatuses),
  max_capacity: z.int(),
  current_load: z.int(),
  region: z.string().nullable(),
  /** The reputation service's overall score as this service last heard it; 50 until it has one. */
  reputation: z.number().min(0).max(100),
  metadata: z.record(z.string(), z.unknown()),
  last_seen_at: timestamp,
  created_at: timestamp,
  updated_at: timestamp,
});
export type Agent = z.infer<typeof agentSchema>;

const callerErrors = ['VALIDATION_FAILED', 'UNAUTHENTICATED', 'INSUFFICIENT_SCOPE'] as const;

export const auctionTypes = ['first_price', 'second_price', 'reserve'] as const;
export const auctionStatuses = ['open', 'awarded', 'expired', 'canceled'] as const;
export const bidStatuses = ['live', 'replaced', 'won', 'lost'] as const;

const auctionFields = {
  capabilities: distinctCapabilities,
  max_price: z.int().min(1).max(Number.MAX_SAFE_INTEGER),
  type: z.enum(auctionTypes).default('second_price'),
  reserve_price: amountMicro.optional(),
  min_reputation: z.number().min(0).max(100).default(0),
  duration_seconds: z.int().min(1).max(3_600).default(30),
  timeout_seconds: z.int().min(1).max(300).default(30),
};

/** A reserve auction needs its reserve, and a reserve never exceeds the max price. */
function withReserveRules<
  T extends z.ZodType<{ type: string; reserve_price?: number | undefined; max_price: number }>,
>(schema: T) {
  return schema
    .refine((value) => value.type !== 'reserve' || value.reserve_price !== undefined, {
      path: ['reserve_price'],
      message: 'a reserve auction needs reserve_price',
    })
    .refine((value) => value.reserve_price === undefined || value.reserve_price <= value.max_price, {
      path: ['reserve_price'],
      message: 'reserve_price cannot exceed max_price',
    });
}

export const bidSchema = z.object({
  id: uuid,
  auction_id: uuid,
  agent_id: uuid,
  price: amountMicro,
  estimated_time_seconds: z.int(),
  status: z.enum(bidStatuses),
  created_at: timestamp,
});

export const clearingSchema = z.object({
  rule: z.enum(auctionTypes),
  max_price: amountMicro,
  reserve_price: amountMicro.nullable(),
  timeout_seconds: z.int(),
  /** Best first. */
  bids: z.array(
    z.object({
      bid_id: uuid,
      agent_id: uuid,
      price: amountMicro,
      estimated_time_seconds: z.int(),
      reputation: z.number(),
      quality: z.number(),
      /** Earlier bids win ties. */
      placed_at: timestamp,
      /** Six decimals; the decision used exact integers (docs/AUCTIONS.md). */
      score: z.string(),
    }),
  ),
  winner_bid_id: uuid.nullable(),
  price: amountMicro.nullable(),
  price_computation: z.record(z.string(), z.unknown()).nullable(),
});
export type ClearingRecord = z.infer<typeof clearingSchema>;

/** SPEC §5b: what each reader sees depends on who they are and whether the auction closed. */
export const auctionSchema = z.object({
  id: uuid,
  task_id: uuid.nullable(),
  requester_id: uuid,
  type: z.enum(auctionTypes),
  status: z.enum(auctionStatuses),
  capabilities: z.array(z.string()),
  max_price: amountMicro,
  reserve_price: amountMicro.nullable(),
  min_reputation: z.number(),
  timeout_seconds: z.int(),
  created_at: timestamp,
  expires_at: timestamp,
  closed_at: timestamp.nullable(),
  /** For the requester only; null for anyone else. */
  bid_count: z.int().nullable(),
  own_bids: z.array(bidSchema),
  outcome: z
    .object({ winner_agent_id: uuid, winner_bid_id: uuid, price: amountMicro, rule: z.enum(auctionTypes) })
    .nullable(),
  clearing: clearingSchema.nullable(),
});
export type AuctionView = z.infer<typeof auctionSchema>;

export const auctionEndpoints = {
  /** An agent of the caller (scope agents:write); its DID is did:key from `public_key`, else did:zerostate:agent:<id>. */
  registerAgent: defineEndpoint({
    service: 'auction',
    name: 'agent.register',
    request: z.strictObject({ ...agentFields, public_key: ed25519PublicKey.optional() }),
    response: agentSchema,
    errors: [...callerErrors, 'CONFLICT'],
    timeoutMs: 5_000,
  }),
  /**
   * Public search: every listed capability must match; filters status, region, min_reputation;
   * ordered by match score (docs/AUCTIONS.md "Search"), then id; keyset cursor.
   */
  listAgents: defineEndpoint({
    service: 'auction',
    name: 'agent.list',
    request: z.strictObject({
      ...pageRequest,
      /** `a,b` in a query string; the gateway forwards the list it parsed, so both forms are read. */
      capabilities: z
        .preprocess(
          (value) =>
            typeof value === 'string'
              ? value
                  .split(',')
                  .map((item) => item.trim())
                  .filter(Boolean)
              : value,
          z.array(capabilitySchema).max(32),
        )
        .optional(),
      status: z.enum(agentStatuses).optional(),
      region: z.string().trim().min(1).max(32).optional(),
      min_reputation: z.coerce.number().min(0).max(100).optional(),
    }),
    response: pageOf(agentSchema),
    errors: ['VALIDATION_FAILED'],
    timeoutMs: 3_000,
  }),
  getAgent: defineEndpoint({
    service: 'auction',
    name: 'agent.get',
    request: z.strictObject({ id: lowerUuid }),
    response: agentSchema,
    errors: ['VALIDATION_FAILED', 'NOT_FOUND'],
    timeoutMs: 2_000,
  }),
  /** The owner changes any field; someone else's agent is NOT_FOUND; a deleted one CONFLICT. */
  updateAgent: defineEndpoint({
    service: 'auction',
    name: 'agent.update',
    request: z.strictObject({
      id: lowerUuid,
      name: agentFields.name.optional(),
      description: agentFields.description,
      capabilities: distinctCapabilities.optional(),
      price_per_task: amountMicro.optional(),
      max_capacity: agentFields.max_capacity,
      region: agentFields.region,
      metadata: agentFields.metadata,
    }),
    response: agentSchema,
    errors: [...callerErrors, 'NOT_FOUND', 'CONFLICT'],
    timeoutMs: 5_000,
  }),
  /** The owner retires the agent: `offline` for good, it bids no more. Repeating it is fine. */
  retireAgent: defineEndpoint({
    service: 'auction',
    name: 'agent.retire',
    request: z.strictObject({ id: lowerUuid }),
    response: emptyResponse,
    errors: [...callerErrors, 'NOT_FOUND'],
    timeoutMs: 5_000,
  }),
  /** The owner's agent is alive: `last_seen_at` now, and an `offline` agent `online` again. */
  heartbeat: defineEndpoint({
    service: 'auction',
    name: 'agent.heartbeat',
    request: z.strictObject({ id: lowerUuid }),
    response: agentSchema,
    errors: [...callerErrors, 'NOT_FOUND', 'CONFLICT'],
    timeoutMs: 2_000,
  }),
  /** An auction of the caller (scope tasks:write), open for `duration_seconds`. */
  createAuction: defineEndpoint({
    service: 'auction',
    name: 'auction.create',
    request: withReserveRules(z.strictObject(auctionFields)),
    response: auctionSchema,
    errors: [...callerErrors],
    timeoutMs: 5_000,
  }),
  /** Internal (the task service as itself): the task's auction; again for the same task answers it again. */
  openTaskAuction: defineEndpoint({
    service: 'auction',
    name: 'auction.open-for-task',
    request: withReserveRules(
      z.strictObject({ ...auctionFields, task_id: lowerUuid, requester_id: lowerUuid }),
    ),
    response: auctionSchema,
    errors: ['VALIDATION_FAILED', 'UNAUTHENTICATED', 'FORBIDDEN'],
    timeoutMs: 5_000,
    callers: ['task'],
  }),
  /** With `agent_id` (own agent): open auctions it could bid on; without: the caller's own auctions. */
  listAuctions: defineEndpoint({
    service: 'auction',
    name: 'auction.list',
    request: z.strictObject({
      ...pageRequest,
      status: z.enum(auctionStatuses).optional(),
      agent_id: lowerUuid.optional(),
    }),
    response: pageOf(auctionSchema),
    errors: [...callerErrors, 'NOT_FOUND'],
    timeoutMs: 3_000,
  }),
  getAuction: defineEndpoint({
    service: 'auction',
    name: 'auction.get',
    request: z.strictObject({ id: lowerUuid }),
    response: auctionSchema,
    errors: [...callerErrors, 'NOT_FOUND'],
    timeoutMs: 2_000,
  }),
  /** The requester, while open. */
  cancelAuction: defineEndpoint({
    service: 'auction',
    name: 'auction.cancel',
    request: z.strictObject({ id: lowerUuid }),
    response: auctionSchema,
    errors: [...callerErrors, 'NOT_FOUND', 'AUCTION_CLOSED'],
    timeoutMs: 5_000,
  }),
  /**
   * Internal (the task service as itself): cancels the task's auction while it is open. Again
   * for a canceled one answers it again; one that closed otherwise is AUCTION_CLOSED.
   */
  cancelTaskAuction: defineEndpoint({
    service: 'auction',
    name: 'auction.cancel-for-task',
    request: z.strictObject({ task_id: lowerUuid }),
    response: auctionSchema,
    errors: ['VALIDATION_FAILED', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'AUCTION_CLOSED'],
    timeoutMs: 5_000,
    callers: ['task'],
  }),
  /** The owner of `agent_id` (scope bids:write); a re-bid replaces the agent's live bid. */
  placeBid: defineEndpoint({
    service: 'auction',
    name: 'bid.place',
    request: z.strictObject({
      id: lowerUuid,
      agent_id: lowerUuid,
      price: amountMicro,
      estimated_time_seconds: z.int().min(1).max(300),
    }),
    response: bidSchema,
    errors: [
      ...callerErrors,
      'NOT_FOUND',
      'AUCTION_CLOSED',
      'AGENT_UNAVAILABLE',
      'CAPABILITY_MISSING',
      'REPUTATION_TOO_LOW',
      'BID_ABOVE_MAX_PRICE',
      'BID_BELOW_RESERVE',
      'SELF_BIDDING',
      'IDEMPOTENCY_KEY_REUSED',
      'IDEMPOTENCY_REQUEST_IN_PROGRESS',
    ],
    timeoutMs: 5_000,
  }),
} as const;

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

/** An auction that closed without a valid bid, or was canceled by its requester. */
export const auctionEndedSchema = z.object({
  auction_id: uuid,
  task_id: uuid.nullable(),
  requester_id: uuid,
  at: timestamp,
});

export const auctionEvents = {
  awarded: defineEvent('evt.auction.auction.awarded', auctionAwardedSchema),
  expired: defineEvent('evt.auction.auction.expired', auctionEndedSchema),
  canceled: defineEvent('evt.auction.auction.canceled', auctionEndedSchema),
  bidPlaced: defineEvent('evt.auction.bid.placed', bidPlacedSchema),
  agentRegistered: defineEvent('evt.auction.agent.registered', agentProfileSchema),
  agentUpdated: defineEvent('evt.auction.agent.updated', agentProfileSchema),
} as const;
