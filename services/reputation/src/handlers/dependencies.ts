import type pg from 'pg';
import type { Clock } from '../events.js';

/** What the handlers need; built once by service.ts. */
export interface ReputationDependencies {
  pool: pg.Pool;
  clock: Clock;
  /** Wakes the outbox relay after a commit that wrote events. */
  kickOutbox: () => void;
}
