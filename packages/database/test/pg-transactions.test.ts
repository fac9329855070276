import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { inTransaction, isUniqueViolation, pgTransactions } from '../src/index.js';
import { migratedScratchDatabase, type ScratchDatabase } from './support.js';

describe('inTransaction over a pg pool', () => {
  let database: ScratchDatabase;
  let pool: pg.Pool;
  const count = async () => Number((await pool.query('SELECT count(*) FROM things')).rows[0].count);

  beforeAll(async () => {
    database = await migratedScratchDatabase('pg_transactions');
    pool = new pg.Pool({ connectionString: database.url, max: 4 });
    pool.on('error', () => undefined);
    await pool.query('CREATE TABLE things (id int PRIMARY KEY, n int NOT NULL DEFAULT 0)');
  });
  afterAll(async () => {
    await pool?.end();
    await database?.drop();
  });
  beforeEach(async () => {
    await pool.query('TRUNCATE things');
  });

  it('when the work returns, then everything it wrote is committed', async () => {
    const result = await inTransaction(pgTransactions(pool), async (client) => {
      await client.query('INSERT INTO things (id) VALUES (1), (2)');
      return 'done';
    });
    expect(result).toBe('done');
    expect(await count()).toBe(2);
  });

  it('when the work throws, then nothing it wrote is kept and the error reaches the caller', async () => {
    await expect(
      inTransaction(pgTransactions(pool), async (client) => {
        await client.query('INSERT INTO things (id) VALUES (1)');
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    expect(await count()).toBe(0);
    expect(pool.totalCount - pool.idleCount).toBe(0);
  });

  it('when two serializable transactions collide, then the loser is run again and both effects land', async () => {
    await pool.query('INSERT INTO things (id) VALUES (1)');
    let attempts = 0;
    let bothRead: () => void = () => undefined;
    const rendezvous = new Promise<void>((resolve) => {
      let arrived = 0;
      bothRead = () => {
        arrived += 1;
        if (arrived === 2) resolve();
      };
    });
    const increment = () =>
      inTransaction(
        pgTransactions(pool),
        async (client) => {
          attempts += 1;
          const { rows } = await client.query('SELECT n FROM things WHERE id = 1');
          if (attempts <= 2) {
            bothRead();
            await rendezvous;
          }
          await client.query('UPDATE things SET n = $1 WHERE id = 1', [rows[0].n + 1]);
        },
        { isolationLevel: 'Serializable' },
      );
    await Promise.all([increment(), increment()]);
    expect(attempts).toBe(3);
    expect((await pool.query('SELECT n FROM things WHERE id = 1')).rows[0].n).toBe(2);
  });

  it('when a pg unique violation is raised, then it is recognised, by index name too', async () => {
    await pool.query('INSERT INTO things (id) VALUES (1)');
    const error = await pool.query('INSERT INTO things (id) VALUES (1)').catch((caught: unknown) => caught);
    expect(isUniqueViolation(error)).toBe(true);
    expect(isUniqueViolation(error, 'things_pkey')).toBe(true);
    expect(isUniqueViolation(error, 'another_index')).toBe(false);
    expect(isUniqueViolation(new Error('no code'))).toBe(false);
  });
});
