import { z } from 'zod';
import { pageOf, pageRequest, timestamp, uuid } from './common.js';
import { defineEndpoint, defineEvent } from './endpoint.js';

/**
 * The task service: its endpoints (SPEC §5b "Tasks", below) and its events. Reputation is built
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

/**
 * The task lifecycle (SPEC §4.5): `pending → auctioning → assigned → running → submitted →
 * completed`, with `failed`, `timed_out`, `canceled` and `disputed` beside it. The allowed moves
 * are one table in the task service (`services/task/src/domain/lifecycle.ts`).
 */
export const taskStatuses = [
  'pending',
  'auctioning',
  'assigned',
  'running',
  'submitted',
  'disputed',
  'completed',
  'failed',
  'timed_out',
  'canceled',
] as const;
export type TaskStatus = (typeof taskStatuses)[number];
/** A task in one of these never changes again; its event stream closes. */
export const terminalTaskStatuses: readonly TaskStatus[] = ['completed', 'failed', 'timed_out', 'canceled'];
export const taskPriorities = ['low', 'normal', 'high', 'critical'] as const;

/** Serialised JSON of at most `limitBytes`. */
const jsonAtMost = (limitBytes: number, what: string) =>
  z
    .json()
    .refine(
      (value) => Buffer.byteLength(JSON.stringify(value)) <= limitBytes,
      `${what} must be at most ${limitBytes / 1024} KiB of JSON`,
    );
export const taskInputLimitBytes = 64 * 1024;
export const taskOutputLimitBytes = 256 * 1024;

export const taskSchema = z.object({
  id: uuid,
  requester_id: uuid,
  type: z.string(),
  capabilities: z.array(z.string()),
  input: z.json(),
  budget: amountMicro,
  timeout_seconds: z.int(),
  priority: z.enum(taskPriorities),
  status: z.enum(taskStatuses),
  auction_id: uuid.nullable(),
  assigned_agent_id: uuid.nullable(),
  /** The cleared price once assigned. */
  cost: amountMicro.nullable(),
  output: z.json().nullable(),
  /** Why a task failed (never empty then), or why its result was rejected. */
  error: z.string().nullable(),
  created_at: timestamp,
  assigned_at: timestamp.nullable(),
  started_at: timestamp.nullable(),
  submitted_at: timestamp.nullable(),
  completed_at: timestamp.nullable(),
  /** Assignment + `timeout_seconds`: an agent that has not submitted by then times out. */
  timeout_at: timestamp.nullable(),
});
export type TaskView = z.infer<typeof taskSchema>;

/** Task ids are stored and compared lower-case, whatever case the caller sent. */
const lowerUuid = uuid.transform((value) => value.toLowerCase());
const taskId = { id: lowerUuid };
const callerErrors = ['VALIDATION_FAILED', 'UNAUTHENTICATED', 'INSUFFICIENT_SCOPE'] as const;
const transitionErrors = [...callerErrors, 'NOT_FOUND', 'FORBIDDEN', 'INVALID_TASK_STATE'] as const;
const idempotencyErrors = ['IDEMPOTENCY_KEY_REUSED', 'IDEMPOTENCY_REQUEST_IN_PROGRESS'] as const;

/** One transition of a task's lifecycle: `{id}` plus its own fields, answering the task. */
function transition<Fields extends z.ZodRawShape>(name: string, fields: Fields) {
  return defineEndpoint({
    service: 'task',
    name,
    request: z.strictObject({ ...taskId, ...fields }),
    response: taskSchema,
    errors: transitionErrors,
    timeoutMs: 10_000,
  });
}

export const taskEndpoints = {
  /**
   * The requester (scope tasks:write) posts a task: its budget is held in escrow and its auction
   * opened (202: the rest happens asynchronously). Too little available balance: INSUFFICIENT_FUNDS
   * and no task. `Idempotency-Key`: the same key and body answer the same task.
   */
  create: defineEndpoint({
    service: 'task',
    name: 'task.create',
    request: z
      .strictObject({
        type: z.string().trim().min(1).max(64),
        capabilities: capabilitiesSchema.refine(
          (list) => new Set(list).size === list.length,
          'capabilities must be distinct',
        ),
        input: jsonAtMost(taskInputLimitBytes, 'input'),
        budget: z.int().min(1).max(Number.MAX_SAFE_INTEGER),
        timeout_seconds: timeoutSeconds.default(30),
        priority: z.enum(taskPriorities).default('normal'),
        auction: z
          .strictObject({
            type: z.enum(['first_price', 'second_price', 'reserve']).optional(),
            reserve_price: amountMicro.optional(),
            min_reputation: z.number().min(0).max(100).optional(),
            duration_seconds: z.int().min(1).max(3_600).optional(),
          })
          .optional(),
      })
      // The auction's own rules, checked here: a task whose auction could never open would hold
      // its budget for nothing.
      .refine((task) => task.auction?.type !== 'reserve' || task.auction.reserve_price !== undefined, {
        path: ['auction', 'reserve_price'],
        message: 'a reserve auction needs reserve_price',
      })
      .refine((task) => (task.auction?.reserve_price ?? 0) <= task.budget, {
        path: ['auction', 'reserve_price'],
        message: 'reserve_price cannot exceed the budget',
      }),
    response: taskSchema,
    errors: [...callerErrors, ...idempotencyErrors, 'INSUFFICIENT_FUNDS', 'ACCOUNT_CLOSED'],
    timeoutMs: 20_000,
  }),
  /** Tasks the caller requested (`role=requester`, the default) or whose agent it owns (`role=agent`), newest first. */
  list: defineEndpoint({
    service: 'task',
    name: 'task.list',
    request: z.strictObject({
      ...pageRequest,
      status: z.enum(taskStatuses).optional(),
      role: z.enum(['requester', 'agent']).default('requester'),
    }),
    response: pageOf(taskSchema),
    errors: [...callerErrors],
    timeoutMs: 3_000,
  }),
  /** The requester, the assigned agent's owner or an admin; anyone else NOT_FOUND. */
  get: defineEndpoint({
    service: 'task',
    name: 'task.get',
    request: z.strictObject(taskId),
    response: taskSchema,
    errors: [...callerErrors, 'NOT_FOUND'],
    timeoutMs: 2_000,
  }),
  /** The owner's agent's tasks still to do (`assigned`, `running`), oldest first. */
  assignments: defineEndpoint({
    service: 'task',
    name: 'task.assignments',
    request: z.strictObject({ agent_id: lowerUuid, ...pageRequest }),
    response: pageOf(taskSchema),
    errors: [...callerErrors],
    timeoutMs: 3_000,
  }),
  /** Requester: before the agent starts (`pending`, `auctioning`, `assigned`); the whole hold is refunded. */
  cancel: transition('task.cancel', {}),
  /** Requester: a `submitted` result is accepted; the cleared price goes to the agent's owner. */
  accept: transition('task.accept', {}),
  /** Requester: a `submitted` result is rejected → `disputed`, the hold stays until an admin resolves it. */
  reject: transition('task.reject', { reason: z.string().trim().min(1).max(2_000) }),
  /** The assigned agent's owner: `assigned → running`. */
  start: transition('task.start', {}),
  /** The assigned agent's owner: `running → submitted` with the output (≤ 256 KiB of JSON). */
  submitResult: transition('task.result', { output: jsonAtMost(taskOutputLimitBytes, 'output') }),
  /** The assigned agent's owner reports failure: the whole hold is refunded. */
  fail: transition('task.fail', { error: z.string().trim().min(1).max(2_000) }),
  /** Admin session: a `disputed` task is paid to the agent (`completed`) or refunded (`failed`). */
  resolve: defineEndpoint({
    service: 'task',
    name: 'task.resolve',
    request: z.strictObject({ ...taskId, outcome: z.enum(['pay_agent', 'refund']) }),
    response: taskSchema,
    errors: transitionErrors,
    timeoutMs: 10_000,
  }),
} as const;

/**
 * Every status change, for live readers (the gateway's `GET /tasks/{id}/events`): a notice only,
 * readers fetch the task through `task.get` so each sees what it may.
 */
export const taskStatusChangedSchema = z.object({
  task_id: uuid,
  status: z.enum(taskStatuses),
  at: timestamp,
});

/** A task its requester canceled (or whose auction was canceled); the hold is refunded. */
export const taskCanceledSchema = z.object({
  ...taskParties,
  agent_id: uuid.nullable(),
  canceled_at: timestamp,
});

export const taskLifecycleEvents = {
  statusChanged: defineEvent('evt.task.task.status-changed', taskStatusChangedSchema),
  canceled: defineEvent('evt.task.task.canceled', taskCanceledSchema),
} as const;
