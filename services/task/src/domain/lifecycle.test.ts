import { taskStatuses, terminalTaskStatuses } from '@zerostate/contracts';
import { AppError } from '@zerostate/errors';
import { describe, expect, it } from 'vitest';
import { allows, requireTransition, type TaskAction, transitions } from './lifecycle.js';

describe('the task lifecycle table', () => {
  it('when a task is terminal, then no action moves it', () => {
    for (const status of terminalTaskStatuses) {
      for (const action of Object.keys(transitions) as TaskAction[]) {
        expect(allows(status, action), `${status} ${action}`).toBe(false);
      }
    }
  });

  it('when a move is not in the table, then it is INVALID_TASK_STATE with the status and action', () => {
    const refused = (() => {
      try {
        requireTransition('running', 'cancel');
      } catch (error) {
        return error;
      }
    })();
    expect(refused).toBeInstanceOf(AppError);
    expect((refused as AppError).code).toBe('INVALID_TASK_STATE');
    expect((refused as AppError).details).toEqual({ status: 'running', action: 'cancel' });
  });

  it('when the requester may cancel, then only before the agent starts', () => {
    const cancelable = taskStatuses.filter((status) => allows(status, 'cancel'));
    expect(cancelable).toEqual(['pending', 'auctioning', 'assigned']);
  });

  it('when a task ends, then a capture follows only acceptance or a dispute paid to the agent', () => {
    const captures = Object.entries(transitions)
      .filter(([, move]) => move.settlement === 'capture')
      .map(([action]) => action);
    expect(captures.sort()).toEqual(['accept', 'resolve_pay']);
    for (const move of Object.values(transitions)) {
      const terminal = (terminalTaskStatuses as readonly string[]).includes(move.to);
      expect(move.settlement !== null, move.to).toBe(terminal);
    }
  });

  it('when every status is reachable, then the happy path is pending → … → completed', () => {
    const path: TaskAction[] = ['open', 'award', 'start', 'submit', 'accept'];
    let status: (typeof taskStatuses)[number] = 'pending';
    for (const action of path) status = requireTransition(status, action).to;
    expect(status).toBe('completed');
  });
});
