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

export const auctionEvents = {
  awarded: defineEvent('evt.auction.auction.awarded', auctionAwardedSchema),
  bidPlaced: defineEvent('evt.auction.bid.placed', bidPlacedSchema),
  agentRegistered: defineEvent('evt.auction.agent.registered', agentProfileSchema),
  agentUpdated: defineEvent('evt.auction.agent.updated', agentProfileSchema),
} as const;
