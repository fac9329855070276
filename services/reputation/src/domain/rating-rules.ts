import { hasRole, hasScope, type Principal } from '@zerostate/contracts';
import { AppError } from '@zerostate/errors';

/** What reputation knows of a task, from the task and auction events. */
export interface KnownTask {
  taskId: string;
  requesterId: string;
  agentId: string | null;
  agentOwnerId: string | null;
  /** `awarded` until an outcome event arrives. */
  status: 'awarded' | 'completed' | 'failed' | 'timed_out';
  /** The amount paid (completed) or the cleared price; null before either is known. */
  costMicro: bigint | null;
}

/** The caller of a rating, or UNAUTHENTICATED / INSUFFICIENT_SCOPE. */
export function requireRater(principal: Principal | undefined): Principal {
  if (!principal) throw new AppError('UNAUTHENTICATED');
  if (!hasScope(principal, 'reputation:write')) {
    throw new AppError('INSUFFICIENT_SCOPE', undefined, { details: { required_scope: 'reputation:write' } });
  }
  return principal;
}

/**
 * SPEC §5b: who may rate. A task is visible to its requester, its agent's owner and admins;
 * anyone else gets NOT_FOUND, as for a task that does not exist. Of those who can see it, only
 * the requester may rate, and only once the task is completed (paid): RATING_NOT_ALLOWED.
 * Returns the task with its paid amount.
 */
export function decideRating(
  task: KnownTask | undefined,
  caller: Principal,
): KnownTask & { agentId: string; agentOwnerId: string; costMicro: bigint } {
  if (!task) throw new AppError('NOT_FOUND');
  const isRequester = caller.user_id === task.requesterId;
  const isAgentOwner = task.agentOwnerId !== null && caller.user_id === task.agentOwnerId;
  const isAdmin = caller.kind === 'user' && hasRole(caller, 'admin');
  if (!isRequester && !isAgentOwner && !isAdmin) throw new AppError('NOT_FOUND');
  if (!isRequester) {
    throw new AppError('RATING_NOT_ALLOWED', "Only the task's requester may rate it.");
  }
  if (
    task.status !== 'completed' ||
    task.agentId === null ||
    task.agentOwnerId === null ||
    task.costMicro === null
  ) {
    throw new AppError('RATING_NOT_ALLOWED', 'Only a completed task can be rated.');
  }
  return { ...task, agentId: task.agentId, agentOwnerId: task.agentOwnerId, costMicro: task.costMicro };
}
