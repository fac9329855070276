import { createLogger, createRegistry, type Registry } from '@zerostate/observability';
import { metricValue, waitUntil } from '@zerostate/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineJob, type JobDefinition, type Jobs, startJobs } from '../src/index.js';
import { type KitDatabase, kitDatabase } from './support.js';

const logger = createLogger({ service: 'kit-test', level: 'silent' });
let database: KitDatabase;
let pool: pg.Pool;
const started: Jobs[] = [];

beforeAll(async () => {
  database = await kitDatabase('kit_jobs');
  pool = database.pool;
});
afterAll(async () => {
  await Promise.all(started.map((jobs) => jobs.stop()));
  await database?.close();
});

/** One replica's scheduler of `jobs` on the shared database. */
async function replica(jobs: JobDefinition[], registry: Registry = createRegistry('kit')): Promise<Jobs> {
  const scheduler = await startJobs({ pool, jobs, logger, registry });
  started.push(scheduler);
  return scheduler;
}

const makeDue = (name: string) =>
  pool.query('UPDATE periodic_jobs SET next_run_at = now() WHERE name = $1', [name]);

describe('periodic jobs across replicas', () => {
  it('when two replicas run the same job, then every run starts at least one interval after the previous one', async () => {
    const intervalMs = 150;
    const claimTimes: number[] = [];
    const job = defineJob({
      name: 'paced',
      intervalMs,
      run: async () => {
        // The claim time the database recorded for this run.
        const { rows } = await pool.query<{ at: Date }>(
          `SELECT last_started_at AS at FROM periodic_jobs WHERE name = 'paced'`,
        );
        claimTimes.push(rows[0]!.at.getTime());
      },
    });
    const [first, second] = [await replica([job]), await replica([job])];
    await waitUntil('five runs', async () => claimTimes.length >= 5, 20_000);
    await Promise.all([first.stop(), second.stop()]);

    const sorted = [...claimTimes].sort((left, right) => left - right);
    const gaps = sorted.slice(1).map((time, index) => time - sorted[index]!);
    expect(gaps.every((gap) => gap >= intervalMs)).toBe(true);
  });

  it('when four replicas find a job due at once, then exactly one runs it and none again before the interval', async () => {
    let runs = 0;
    const job = defineJob({
      name: 'hourly',
      intervalMs: 3_600_000,
      run: async () => {
        runs += 1;
      },
    });
    const replicas = await Promise.all([1, 2, 3, 4].map(() => replica([job])));
    expect(await replicas[0]!.tick('hourly')).toBe(false);

    await makeDue('hourly');
    const ran = await Promise.all(replicas.map((scheduler) => scheduler.tick('hourly')));

    expect(ran.filter(Boolean)).toHaveLength(1);
    expect(runs).toBe(1);
    expect((await Promise.all(replicas.map((scheduler) => scheduler.tick('hourly')))).some(Boolean)).toBe(
      false,
    );
    expect(runs).toBe(1);
  });

  it('when a run outlasts its interval, then no other replica starts it until it ends', async () => {
    let release: () => void = () => undefined;
    const blocked = new Promise<void>((resolve) => {
      release = resolve;
    });
    let runs = 0;
    const job = defineJob({
      name: 'slow',
      intervalMs: 3_600_000,
      run: async () => {
        runs += 1;
        await blocked;
      },
    });
    const [first, second] = [await replica([job]), await replica([job])];
    await makeDue('slow');
    const running = first.tick('slow');
    await waitUntil('the run to start', async () => runs === 1);
    await makeDue('slow');
    expect(await second.tick('slow')).toBe(false);

    release();
    expect(await running).toBe(true);
    expect(await second.tick('slow')).toBe(true);
    expect(runs).toBe(2);
  });
});

describe('a periodic job that fails or is stopped', () => {
  it('when a run throws, then it is counted as an error, its lease is released and the next interval retries it', async () => {
    let attempts = 0;
    const job = defineJob({
      name: 'flaky',
      intervalMs: 100,
      run: async () => {
        attempts += 1;
        if (attempts === 1) throw new Error('first attempt fails');
      },
    });
    const registry = createRegistry('kit');
    const scheduler = await replica([job], registry);
    await waitUntil('a retry that succeeds', async () => attempts >= 2);
    await scheduler.stop();

    expect(await metricValue(registry, 'periodic_job_runs_total', { job: 'flaky', outcome: 'error' })).toBe(
      1,
    );
    expect(
      await metricValue(registry, 'periodic_job_runs_total', { job: 'flaky', outcome: 'ok' }),
    ).toBeGreaterThan(0);
    const { rows } = await pool.query(
      `SELECT lease_until, last_error FROM periodic_jobs WHERE name = 'flaky'`,
    );
    expect(rows[0]).toEqual({ lease_until: null, last_error: null });
  });

  it('when the scheduler stops during a run, then the run sees its signal abort and stop waits for it', async () => {
    let sawAbort = false;
    let finished = false;
    const job = defineJob({
      name: 'long',
      intervalMs: 3_600_000,
      run: async (signal) => {
        await new Promise<void>((resolve) =>
          signal.addEventListener('abort', () => resolve(), { once: true }),
        );
        sawAbort = signal.aborted;
        await new Promise((resolve) => setTimeout(resolve, 50));
        finished = true;
      },
    });
    const scheduler = await replica([job]);
    await makeDue('long');
    const running = scheduler.tick('long');
    await waitUntil('the run to hold its lease', async () => {
      const { rows } = await pool.query(`SELECT lease_until FROM periodic_jobs WHERE name = 'long'`);
      return rows[0]?.lease_until !== null;
    });

    await scheduler.stop();

    expect(sawAbort).toBe(true);
    expect(finished).toBe(true);
    expect(await running).toBe(true);
    expect(await scheduler.tick('long')).toBe(false);
  });

  it('when two jobs share a name or an interval is not positive, then the scheduler refuses to start', async () => {
    const run = async () => undefined;
    await expect(
      startJobs({
        pool,
        logger,
        registry: createRegistry('kit'),
        jobs: [
          { name: 'twin', intervalMs: 1_000, run },
          { name: 'twin', intervalMs: 1_000, run },
        ],
      }),
    ).rejects.toThrow(/unique/);
    await expect(
      startJobs({
        pool,
        logger,
        registry: createRegistry('kit'),
        jobs: [{ name: 'never', intervalMs: 0, run }],
      }),
    ).rejects.toThrow(/never.*positive/);
  });
});
