import type pg from 'pg';
import type { Clock } from '../events.js';
import type { ReputationMetrics } from '../metrics.js';

/** What the handlers need; built once by service.ts. */
export interface ReputationDependencies {
  pool: pg.Pool;
  clock: Clock;
  metrics: ReputationMetrics;
  /** Wakes the outbox relay after a commit that wrote events. */
  kickOutbox: () => void;
}
