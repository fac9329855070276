import { invariantNames } from '@zerostate/contracts';
import { counter, gauge, type Registry } from '@zerostate/observability';

/** The payment service's own metrics, registered in the service's registry. */
export function createPaymentMetrics(registry: Registry) {
  const metrics = {
    invariantViolations: counter(
      registry,
      'payment_balance_invariant_violations_total',
      'Ledger invariant violations found by reconciliation, by invariant.',
      ['invariant'],
    ),
    reconciliationRuns: counter(
      registry,
      'payment_reconciliation_runs_total',
      'Reconciliation runs this replica completed, by trigger and result (ok or violations).',
      ['trigger', 'result'],
    ),
    reconciliationLastRun: gauge(
      registry,
      'payment_reconciliation_last_run_timestamp_seconds',
      'Unix time of the last reconciliation run this replica completed.',
    ),
    transfers: counter(registry, 'payment_transfers_total', 'Ledger transfers committed, by kind.', ['kind']),
    channelPayments: counter(registry, 'payment_channel_payments_total', 'Channel payments accepted.'),
    idempotentReplays: counter(
      registry,
      'payment_idempotent_replays_total',
      'Requests answered from a stored Idempotency-Key outcome, by endpoint.',
      ['endpoint'],
    ),
    housekeepingDeleted: counter(
      registry,
      'payment_housekeeping_deleted_rows_total',
      'Rows deleted by the payment housekeeping, by table.',
      ['table'],
    ),
  };
  // Every invariant's series exists from boot at 0, so the first violation is an increase that
  // Prometheus' increase() sees rather than a series appearing already above zero.
  for (const invariant of invariantNames) metrics.invariantViolations.inc({ invariant }, 0);
  return metrics;
}

export type PaymentMetrics = ReturnType<typeof createPaymentMetrics>;
