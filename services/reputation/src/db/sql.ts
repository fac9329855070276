import type pg from 'pg';

/**
 * What the repositories run SQL on: the pool for a single statement, or a client inside an open
 * transaction. The kit hands event consumers a `pg` transaction, so the reputation repositories
 * are written over `pg` and endpoints share them (one code path for events and HTTP).
 */
export type Sql = Pick<pg.Pool | pg.PoolClient, 'query'>;
