import type { TaskStatus } from '@zerostate/contracts';
import { AppError } from '@zerostate/errors';

/**
 * Every move a task can make (SPEC §4.5), in one table: the action, the statuses it may start
 * from, where it leads, and what the task's escrow is owed afterwards (`capture`: the cleared
 * price to the agent's owner and the rest back; `refund`: the whole hold back; none: the hold
 * stays). Anything else is INVALID_TASK_STATE.
 */
export const transitions = {
  /** The saga held the budget and opened the auction. */
  open: { from: ['pending'], to: 'auctioning', settlement: null },
  /** The auction awarded the task (early awards can beat `open` to a task after a crash). */
  award: { from: ['pending', 'auctioning'], to: 'assigned', settlement: null },
  /** The auction closed without a valid bid. */
  no_bids: { from: ['pending', 'auctioning'], to: 'failed', settlement: 'refund' },
  /** The requester, before the agent starts (or the requester canceled the auction itself). */
  cancel: { from: ['pending', 'auctioning', 'assigned'], to: 'canceled', settlement: 'refund' },
  start: { from: ['assigned'], to: 'running', settlement: null },
  submit: { from: ['running'], to: 'submitted', settlement: null },
  /** The agent reports failure. */
  fail: { from: ['assigned', 'running'], to: 'failed', settlement: 'refund' },
  /** `timeout_seconds` after assignment without a result. */
  time_out: { from: ['assigned', 'running'], to: 'timed_out', settlement: 'refund' },
  /** The requester accepts, or the acceptance window passes. */
  accept: { from: ['submitted'], to: 'completed', settlement: 'capture' },
  reject: { from: ['submitted'], to: 'disputed', settlement: null },
  /** An admin resolves a dispute for the agent. */
  resolve_pay: { from: ['disputed'], to: 'completed', settlement: 'capture' },
  /** An admin resolves a dispute for the requester. */
  resolve_refund: { from: ['disputed'], to: 'failed', settlement: 'refund' },
} as const satisfies Record<
  string,
  { from: readonly TaskStatus[]; to: TaskStatus; settlement: 'capture' | 'refund' | null }
>;

export type TaskAction = keyof typeof transitions;
export type Transition = (typeof transitions)[TaskAction];

/** The move `action` makes from `status`, or INVALID_TASK_STATE naming both. */
export function requireTransition(status: TaskStatus, action: TaskAction): Transition {
  const move = transitions[action];
  if (!(move.from as readonly TaskStatus[]).includes(status)) {
    throw new AppError('INVALID_TASK_STATE', `A ${status} task cannot ${action.replace('_', ' ')}.`, {
      details: { status, action },
    });
  }
  return move;
}

/** True when `action` may happen now; for the saga's own steps, which skip instead of failing. */
export function allows(status: TaskStatus, action: TaskAction): boolean {
  return (transitions[action].from as readonly TaskStatus[]).includes(status);
}
