import type pg from 'pg';

/**
 * What the repositories run SQL on: the pool for a single statement, or a client inside an open
 * transaction. The kit hands event consumers a `pg` transaction, so the reputation repositories
 * are written over `pg` and endpoints share them (one code path for events and HTTP).
 */
export type Sql = Pick<pg.Pool | pg.PoolClient, 'query'>;

/** Runs `work` in one transaction on a client of `pool`; rolls back when it throws. */
export async function inTransaction<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch((rollbackError: Error) => {
      broken = rollbackError;
    });
    throw error;
  } finally {
    client.release(broken);
  }
}
