import { counter, type Registry } from '@zerostate/observability';

/** The task domain's metrics (SPEC §6): transitions by action and outcome, saga settlements. */
export function createTaskMetrics(registry: Registry) {
  return {
    transitions: counter(
      registry,
      'task_transitions_total',
      'Task transitions committed, by action and new status.',
      ['action', 'status'],
    ),
    settled: counter(
      registry,
      'task_settlements_total',
      'Escrow settlements the saga attempted, by kind (capture, refund) and outcome (ok, retry).',
      ['settlement', 'outcome'],
    ),
    holdRefused: counter(
      registry,
      'task_holds_refused_total',
      'Tasks refused because the budget could not be held.',
    ),
  };
}

export type TaskMetrics = ReturnType<typeof createTaskMetrics>;
