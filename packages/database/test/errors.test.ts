import { AppError } from '@zerostate/errors';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, inStatement, mapPrismaError, withTransientRetry } from '../src/index.js';
import { migratedScratchDatabase, type ScratchDatabase } from './support.js';

describe('withTransientRetry', () => {
  let database: ScratchDatabase;
  let pool: pg.Pool;

  beforeAll(async () => {
    database = await migratedScratchDatabase('errors');
    pool = createPool({
      connectionString: database.url,
      max: 4,
      minIdle: 0,
      maxLifetimeSeconds: 60,
      idleTimeoutMs: 10_000,
      connectTimeoutMs: 5_000,
    });
  });

  afterAll(async () => {
    await pool.end();
    await database.drop();
  });

  /** Another serializable transaction that reads and writes `items` in between, causing write skew. */
  async function interleaveConflictingTransaction(name: string): Promise<void> {
    const other = await pool.connect();
    try {
      await other.query('BEGIN ISOLATION LEVEL SERIALIZABLE');
      await other.query('SELECT sum(counter) FROM items');
      await other.query('INSERT INTO items (name, counter) VALUES ($1, 1)', [name]);
      await other.query('COMMIT');
    } finally {
      other.release();
    }
  }

  it('when Postgres reports a serialization failure, then the transaction is run again and succeeds', async () => {
    let attempts = 0;
    const errorCodes: string[] = [];

    const inserted = await withTransientRetry(async () => {
      attempts += 1;
      const client = await pool.connect();
      try {
        await client.query('BEGIN ISOLATION LEVEL SERIALIZABLE');
        await client.query('SELECT sum(counter) FROM items');
        if (attempts === 1) await interleaveConflictingTransaction('other');
        await client.query('INSERT INTO items (name, counter) VALUES ($1, 1)', [`mine-${attempts}`]);
        await client.query('COMMIT');
        return `mine-${attempts}`;
      } catch (error) {
        errorCodes.push((error as { code?: string }).code ?? 'none');
        await client.query('ROLLBACK');
        throw error;
      } finally {
        client.release();
      }
    });

    expect(errorCodes).toEqual(['40001']);
    expect(attempts).toBe(2);
    expect(inserted).toBe('mine-2');
    const { rows } = await pool.query<{ name: string }>('SELECT name FROM items ORDER BY name');
    expect(rows.map((row) => row.name)).toEqual(['mine-2', 'other']);
  });

  it('when the failure stays transient, then it gives up after the given number of attempts', async () => {
    let attempts = 0;

    await expect(
      withTransientRetry(
        async () => {
          attempts += 1;
          await pool.query("DO $$ BEGIN RAISE EXCEPTION 'deadlock' USING ERRCODE = '40P01'; END $$");
        },
        { attempts: 2 },
      ),
    ).rejects.toMatchObject({ code: '40P01' });
    expect(attempts).toBe(2);
  });

  it('when no attempt count is given, then it tries three times', async () => {
    let attempts = 0;

    await expect(
      withTransientRetry(async () => {
        attempts += 1;
        await pool.query("DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '40001'; END $$");
      }),
    ).rejects.toMatchObject({ code: '40001' });
    expect(attempts).toBe(3);
  });

  it('when the error is not transient, then it is thrown at once without a retry', async () => {
    let attempts = 0;

    await expect(
      withTransientRetry(async () => {
        attempts += 1;
        await pool.query('INSERT INTO items (id, name) VALUES (1, $1), (1, $1)', ['twice']);
      }),
    ).rejects.toMatchObject({ code: '23505' });
    expect(attempts).toBe(1);
  });

  it('when a statement keeps deadlocking, then every service answers a retryable SERVICE_UNAVAILABLE', async () => {
    let attempts = 0;

    const failure = await inStatement(async () => {
      attempts += 1;
      await pool.query("DO $$ BEGIN RAISE EXCEPTION 'deadlock' USING ERRCODE = '40P01'; END $$");
    }).catch((error: unknown) => error);

    expect(attempts).toBe(3);
    expect(failure).toBeInstanceOf(AppError);
    expect(failure).toMatchObject({ code: 'SERVICE_UNAVAILABLE', retryable: true });
  });
});

describe('mapPrismaError', () => {
  it('when the error is not a Prisma error, then the very same error is returned', () => {
    const plain = new Error('boom');
    const postgres = Object.assign(new Error('duplicate key'), { code: '23505' });

    expect(mapPrismaError(plain)).toBe(plain);
    expect(mapPrismaError(postgres)).toBe(postgres);
    expect(mapPrismaError('text')).toBe('text');
  });
});
