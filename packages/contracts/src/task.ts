import { z } from 'zod';
import { timestamp, uuid } from './common.js';
import { defineEvent } from './endpoint.js';

/**
 * The task service's events (its endpoints come with the task service). Reputation is built
 * from them, so each outcome carries everything a consumer needs without asking the task
 * service: who asked, which agent did it and who owns that agent, the capabilities, what was
 * paid and how long the work took. The event id (`EventEnvelope.id`, also the JetStream
 * `Nats-Msg-Id`) is what consumers record in `processed_events`.
 */

/** A capability as agents declare it (SPEC §5b). */
export const capabilitySchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._:-]{0,63}$/, 'lowercase letters, digits and . _ : -, at most 64');
export const capabilitiesSchema = z.array(capabilitySchema).min(1).max(32);

/** An amount of micro-credits: a JSON integer, never a float or a string. */
const amountMicro = z.int().min(0).max(Number.MAX_SAFE_INTEGER);
const timeoutSeconds = z.int().min(1).max(300);

/** Who took part in a task: every outcome event starts with these. */
const taskParties = {
  task_id: uuid,
  /** The user who posted and pays for the task. */
  requester_id: uuid,
  capabilities: capabilitiesSchema,
  /** What the requester put in escrow. */
  budget: amountMicro,
  timeout_seconds: timeoutSeconds,
};

/** The agent that won the task's auction and the user who owns it. */
const assignedAgent = {
  agent_id: uuid,
  agent_owner_id: uuid,
};

export const taskCompletedSchema = z.object({
  ...taskParties,
  ...assignedAgent,
  /** What the requester paid: the captured price, in micro-credits. */
  cost: amountMicro,
  /** What the agent estimated in its bid, when known. */
  estimated_time_seconds: z.int().min(1).max(300).nullable(),
  started_at: timestamp,
  /** When the agent submitted its result; `submitted_at − started_at` is how long it worked. */
  submitted_at: timestamp,
  /** When the requester accepted (or the acceptance window passed) and the escrow was captured. */
  completed_at: timestamp,
});
export type TaskCompleted = z.infer<typeof taskCompletedSchema>;

/**
 * Why a task failed. Only `agent_failed` (the agent reported failure) and `dispute_refunded` (an
 * admin refunded a disputed result) are the agent's doing; `no_valid_bid` has no agent at all.
 */
export const taskFailureReasons = ['no_valid_bid', 'agent_failed', 'dispute_refunded'] as const;

export const taskFailedSchema = z.object({
  ...taskParties,
  /** Null when no agent was ever assigned (`no_valid_bid`). */
  agent_id: uuid.nullable(),
  agent_owner_id: uuid.nullable(),
  /** The cleared price the agent would have been paid (refunded now); null without an agent. */
  cost: amountMicro.nullable(),
  reason: z.enum(taskFailureReasons),
  error: z.string().min(1).max(2_000),
  failed_at: timestamp,
});
export type TaskFailed = z.infer<typeof taskFailedSchema>;

export const taskTimedOutSchema = z.object({
  ...taskParties,
  ...assignedAgent,
  /** The cleared price the agent would have been paid (refunded now). */
  cost: amountMicro,
  /** Null when the agent never started. */
  started_at: timestamp.nullable(),
  timeout_at: timestamp,
  timed_out_at: timestamp,
});
export type TaskTimedOut = z.infer<typeof taskTimedOutSchema>;

export const taskEvents = {
  completed: defineEvent('evt.task.task.completed', taskCompletedSchema),
  failed: defineEvent('evt.task.task.failed', taskFailedSchema),
  // Kebab, not `timed_out`: subjects are lowercase kebab tokens (the kit's consumers refuse others).
  timedOut: defineEvent('evt.task.task.timed-out', taskTimedOutSchema),
} as const;
