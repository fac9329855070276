import { z } from 'zod';
import { pageOf, pageRequest, timestamp, uuid } from './common.js';
import { defineEndpoint, defineEvent } from './endpoint.js';
import { capabilitySchema } from './task.js';

/** What every agent without evidence scores, on every dimension (SPEC §4.4). */
export const neutralScore = 50;

/** A score on 0–100, rounded to two decimals (docs/REPUTATION.md "Rounding"). */
const score = z.number().min(0).max(100);
const count = z.int().min(0).max(Number.MAX_SAFE_INTEGER);
/** Ids are stored and compared lower-case, whatever case the caller sent. */
const lowerUuid = uuid.transform((value) => value.toLowerCase());

export const scoreViewSchema = z.object({
  agent_id: uuid,
  overall: score,
  reliability: score,
  quality: score,
  speed: score,
  tasks: z.object({ total: count, completed: count, failed: count, timed_out: count }),
  /** `average` is the plain mean of the 1–5 ratings, null without any. */
  ratings: z.object({ count, average: z.number().min(1).max(5).nullable() }),
  explanation: z.object({
    /** Their values, added as decimals, equal `overall` exactly. */
    terms: z.array(z.object({ name: z.string().max(100), value: z.number() })).max(16),
    formula: z.string().max(2_000),
  }),
  /** When the last event about this agent was applied; null for an agent nothing is known of. */
  updated_at: timestamp.nullable(),
});
export type ScoreView = z.infer<typeof scoreViewSchema>;

export const leaderboardItemSchema = z.object({
  agent_id: uuid,
  owner_id: uuid,
  capabilities: z.array(z.string()),
  overall: score,
  reliability: score,
  quality: score,
  speed: score,
  total_tasks: count,
  updated_at: timestamp,
});

export const performanceSchema = z.object({
  agent_id: uuid,
  /** The agent's overall score now. */
  reputation: score,
  total_tasks: count,
  successful_tasks: count,
  failed_tasks: count,
  timed_out_tasks: count,
  /** successful / total, 0–1 with four decimals; null before the first task. */
  success_rate: z.number().min(0).max(1).nullable(),
  bids_submitted: count,
  auctions_won: count,
});
export type Performance = z.infer<typeof performanceSchema>;

export const ratingSchema = z.object({
  task_id: uuid,
  agent_id: uuid,
  requester_id: uuid,
  rating: z.int().min(1).max(5),
  comment: z.string().nullable(),
  created_at: timestamp,
});
export type Rating = z.infer<typeof ratingSchema>;

const agentId = { agent_id: lowerUuid };
const publicReadErrors = ['VALIDATION_FAILED'] as const;

/**
 * The reputation service: scores per agent built only from task and auction events
 * (docs/REPUTATION.md states every rule), the agent-performance read model, and ratings by the
 * paying requester of a completed task. Reads are public; rating needs `reputation:write`.
 */
export const reputationEndpoints = {
  /** One agent's score now, with the terms that add up to it. Unknown agents score 50. */
  get: defineEndpoint({
    service: 'reputation',
    name: 'get',
    request: z.strictObject(agentId),
    response: scoreViewSchema,
    errors: [...publicReadErrors],
    timeoutMs: 2_000,
  }),
  /** Many agents' scores at once (for the gateway and other services); unknown agents score 50. */
  getMany: defineEndpoint({
    service: 'reputation',
    name: 'get-many',
    request: z.strictObject({ agent_ids: z.array(lowerUuid).min(1).max(100) }),
    response: z.object({ items: z.array(scoreViewSchema) }),
    errors: [...publicReadErrors],
    timeoutMs: 3_000,
  }),
  /** Best first by overall score (then agent id), optionally only agents with a capability. */
  leaderboard: defineEndpoint({
    service: 'reputation',
    name: 'leaderboard',
    request: z.strictObject({ ...pageRequest, capability: capabilitySchema.optional() }),
    response: pageOf(leaderboardItemSchema),
    errors: [...publicReadErrors],
    timeoutMs: 3_000,
  }),
  performance: defineEndpoint({
    service: 'reputation',
    name: 'performance',
    request: z.strictObject({ id: lowerUuid }),
    response: performanceSchema,
    errors: [...publicReadErrors],
    timeoutMs: 2_000,
  }),
  /**
   * The task's paying requester rates a completed task, once. Someone who may not see the task
   * (neither its requester nor its agent's owner) gets NOT_FOUND; anyone else but the requester,
   * or a task that is not completed, RATING_NOT_ALLOWED; a second rating RATING_EXISTS.
   */
  rate: defineEndpoint({
    service: 'reputation',
    name: 'rate',
    request: z.strictObject({
      id: lowerUuid,
      rating: z.int().min(1).max(5),
      comment: z.string().max(1_000).optional(),
    }),
    response: ratingSchema,
    errors: [
      'VALIDATION_FAILED',
      'UNAUTHENTICATED',
      'INSUFFICIENT_SCOPE',
      'NOT_FOUND',
      'RATING_NOT_ALLOWED',
      'RATING_EXISTS',
      'IDEMPOTENCY_KEY_REUSED',
      'IDEMPOTENCY_REQUEST_IN_PROGRESS',
    ],
    timeoutMs: 5_000,
  }),
} as const;

/**
 * `score.updated` is the feed the auction service builds its read model from: every change of a
 * stored score, with a version that only rises per agent (apply an event only if its version is
 * higher than the one held). An agent it has no event for counts as 50.
 */
export const reputationEvents = {
  scoreUpdated: defineEvent(
    'evt.reputation.score.updated',
    z.object({
      agent_id: uuid,
      overall: score,
      reliability: score,
      quality: score,
      speed: score,
      version: z.int().min(1).max(Number.MAX_SAFE_INTEGER),
      updated_at: timestamp,
    }),
  ),
  ratingGiven: defineEvent(
    'evt.reputation.rating.given',
    z.object({
      task_id: uuid,
      agent_id: uuid,
      requester_id: uuid,
      rating: z.int().min(1).max(5),
      created_at: timestamp,
    }),
  ),
} as const;
