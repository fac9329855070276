import type pg from 'pg';
import type { IsolationLevel, TransactionalClient } from './transactions.js';

const isolationSql: Record<IsolationLevel, string> = {
  ReadUncommitted: 'BEGIN ISOLATION LEVEL READ UNCOMMITTED',
  ReadCommitted: 'BEGIN',
  RepeatableRead: 'BEGIN ISOLATION LEVEL REPEATABLE READ',
  Serializable: 'BEGIN ISOLATION LEVEL SERIALIZABLE',
};

/**
 * A `pg` pool as a `TransactionalClient`, so `inTransaction(pgTransactions(pool), work)` runs
 * plain SQL on one pooled client with the same retries and error mapping as a Prisma
 * transaction, without Prisma's per-query engine work: for hot paths and for code the kit hands
 * a `pg` transaction (event consumers). `timeout` is Prisma's notion and not enforced here;
 * statements are bounded by the database's own settings.
 */
export function pgTransactions(pool: pg.Pool): TransactionalClient<pg.PoolClient> {
  return {
    async $transaction(work, options) {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        await client.query(isolationSql[options?.isolationLevel ?? 'ReadCommitted']);
        const result = await work(client);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch((rollbackError: Error) => {
          // A connection that cannot roll back is broken: the pool discards it.
          broken = rollbackError;
        });
        throw error;
      } finally {
        client.release(broken);
      }
    },
  };
}
