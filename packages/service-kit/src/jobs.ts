import { counter, gauge, histogram, type Logger, type Registry } from '@zerostate/observability';
import type pg from 'pg';

/** A periodic job: runs about once per `intervalMs` across all replicas of a service together. */
export interface JobDefinition {
  /** Unique within the service; the row in `periodic_jobs` and the `job` label. */
  name: string;
  intervalMs: number;
  /**
   * How long one run may hold the job before another replica may start it again (default: the
   * interval, at least 5 minutes). A replica that dies mid-run blocks the job at most this long.
   */
  leaseMs?: number;
  /** The work. `signal` aborts when the service stops: end after the current batch. */
  run(signal: AbortSignal): Promise<unknown>;
}

export interface Jobs {
  /**
   * Claims `name` if it is due and no replica holds it, runs it and resolves `true`; resolves
   * `false` without running when it is not due or another replica holds it.
   */
  tick(name: string): Promise<boolean>;
  /** Stops scheduling, aborts the signal of runs in progress and waits for them to end. */
  stop(): Promise<void>;
}

export function defineJob(job: JobDefinition): JobDefinition {
  return Object.freeze(job);
}

/** Inserting the row the first time makes the first run due one interval later, never at boot. */
const registerSql = `
INSERT INTO periodic_jobs (name, next_run_at)
VALUES ($1, now() + $2::double precision * interval '1 millisecond')
ON CONFLICT (name) DO NOTHING`;

/**
 * The claim: one UPDATE, so of replicas claiming at once the first takes the row lock and moves
 * `next_run_at` on, and the others re-check the WHERE after it commits and claim nothing.
 */
const claimSql = `
UPDATE periodic_jobs
SET next_run_at = now() + $2::double precision * interval '1 millisecond',
    lease_until = now() + $3::double precision * interval '1 millisecond',
    last_started_at = now()
WHERE name = $1 AND next_run_at <= now() AND (lease_until IS NULL OR lease_until <= now())
RETURNING name`;

const finishSql = `
UPDATE periodic_jobs SET lease_until = NULL, last_finished_at = now(), last_error = $2 WHERE name = $1`;

/** Milliseconds until the job is next due by the database clock (0 when it is due now). */
const dueInSql = `
SELECT GREATEST(0, EXTRACT(EPOCH FROM GREATEST(next_run_at, COALESCE(lease_until, next_run_at)) - now()) * 1000)::float8
  AS due_in_ms
FROM periodic_jobs WHERE name = $1`;

const defaultMinimumLeaseMs = 300_000;
/** A replica re-checks at least this often, so a changed interval or a cleared lease is seen. */
const recheckCapMs = 60_000;

function jobMetrics(registry: Registry) {
  return {
    runs: counter(registry, 'periodic_job_runs_total', 'Periodic job runs this replica did, by outcome.', [
      'job',
      'outcome',
    ]),
    duration: histogram(registry, 'periodic_job_duration_seconds', 'Duration of periodic job runs.', ['job']),
    lastSuccess: gauge(
      registry,
      'periodic_job_last_success_timestamp_seconds',
      'Unix time of the last run of a job this replica completed without error.',
      ['job'],
    ),
  };
}

/**
 * Runs each job about once per interval whichever replicas run: the claim on its `periodic_jobs`
 * row (see `claimSql`) lets one replica run it and moves the next run on, and the lease keeps a
 * run that outlasts its interval from starting twice. Each replica sleeps until the job is due by
 * the database clock, plus up to a tenth of the interval (at most 5 s) of jitter so replicas do
 * not all wake at once. A failed run is logged, counted and retried at the next interval.
 */
export async function startJobs(options: {
  pool: pg.Pool;
  jobs: readonly JobDefinition[];
  logger: Logger;
  registry: Registry;
  random?: () => number;
}): Promise<Jobs> {
  const { pool, logger } = options;
  const random = options.random ?? Math.random;
  const metrics = jobMetrics(options.registry);
  const byName = new Map(options.jobs.map((job) => [job.name, job]));
  if (byName.size !== options.jobs.length) throw new Error('periodic job names must be unique');
  for (const job of options.jobs) {
    if (!(Number.isSafeInteger(job.intervalMs) && job.intervalMs > 0)) {
      throw new Error(`periodic job ${job.name}: intervalMs must be a positive integer`);
    }
    await pool.query(registerSql, [job.name, job.intervalMs]);
    for (const outcome of ['ok', 'error']) metrics.runs.inc({ job: job.name, outcome }, 0);
  }
  const jitterOf = (job: JobDefinition) => random() * Math.min(job.intervalMs * 0.1, 5_000);
  const abort = new AbortController();
  const running = new Set<Promise<unknown>>();
  const timers = new Set<NodeJS.Timeout>();

  const runClaimed = async (job: JobDefinition) => {
    const stopTimer = metrics.duration.startTimer({ job: job.name });
    let failure: string | null = null;
    try {
      await job.run(abort.signal);
      metrics.runs.inc({ job: job.name, outcome: 'ok' });
      metrics.lastSuccess.set({ job: job.name }, Date.now() / 1000);
    } catch (error) {
      failure = error instanceof Error ? error.message : String(error);
      metrics.runs.inc({ job: job.name, outcome: 'error' });
      logger.warn({ err: error, job: job.name }, 'periodic job failed; the next interval retries it');
    } finally {
      stopTimer();
      await pool.query(finishSql, [job.name, failure?.slice(0, 2_000) ?? null]).catch((error: unknown) => {
        logger.warn({ err: error, job: job.name }, 'could not release a periodic job; its lease expires');
      });
    }
  };

  /** Tracks `work` until it settles, so stop waits for every query and run that started. */
  const tracked = <T>(work: Promise<T>): Promise<T> => {
    running.add(work);
    return work.finally(() => running.delete(work));
  };

  const claimAndRun = async (job: JobDefinition): Promise<boolean> => {
    const leaseMs = job.leaseMs ?? Math.max(job.intervalMs, defaultMinimumLeaseMs);
    const claimed = await pool.query(claimSql, [job.name, job.intervalMs, leaseMs]);
    if (claimed.rowCount === 0) return false;
    await runClaimed(job);
    return true;
  };

  const tick = async (name: string): Promise<boolean> => {
    const job = byName.get(name);
    if (!job) throw new Error(`no periodic job named ${name}`);
    if (abort.signal.aborted) return false;
    return tracked(claimAndRun(job));
  };

  const schedule = (job: JobDefinition, delayMs: number) => {
    if (abort.signal.aborted) return;
    const timer = setTimeout(() => {
      timers.delete(timer);
      void tracked(
        (async () => {
          let nextMs = job.intervalMs;
          try {
            await claimAndRun(job);
            if (abort.signal.aborted) return;
            const due = await pool.query<{ due_in_ms: number }>(dueInSql, [job.name]);
            nextMs = due.rows[0]?.due_in_ms ?? job.intervalMs;
          } catch (error) {
            logger.warn({ err: error, job: job.name }, 'periodic job check failed; will look again');
          }
          schedule(job, Math.min(nextMs, recheckCapMs, job.intervalMs) + jitterOf(job));
        })(),
      );
    }, delayMs);
    // A timer never keeps the process alive on its own.
    timer.unref();
    timers.add(timer);
  };
  for (const job of options.jobs) {
    const due = await pool.query<{ due_in_ms: number }>(dueInSql, [job.name]);
    schedule(
      job,
      Math.min(due.rows[0]?.due_in_ms ?? job.intervalMs, recheckCapMs, job.intervalMs) + jitterOf(job),
    );
  }

  return {
    tick,
    stop: async () => {
      abort.abort();
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      await Promise.allSettled([...running]);
    },
  };
}
