import { Registry } from '@zerostate/observability';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, instrumentPool } from '../src/index.js';
import { type ScratchDatabase, scratchDatabase } from './support.js';

describe('createPool and instrumentPool', () => {
  let database: ScratchDatabase;
  const pools: pg.Pool[] = [];

  function newPool(applicationName?: string): pg.Pool {
    const pool = createPool({
      connectionString: database.url,
      max: 7,
      minIdle: 2,
      maxLifetimeSeconds: 120,
      idleTimeoutMs: 30_000,
      connectTimeoutMs: 3_000,
      ...(applicationName === undefined ? {} : { applicationName }),
    });
    pools.push(pool);
    return pool;
  }

  beforeAll(async () => {
    database = await scratchDatabase('pool');
  });

  afterAll(async () => {
    await Promise.all(pools.map((pool) => pool.end()));
    await database.drop();
  });

  it('when the database defaults to another time zone, then pool sessions still work in UTC', async () => {
    const admin = newPool();
    const databaseName = new URL(database.url).pathname.slice(1);
    await admin.query(`ALTER DATABASE "${databaseName}" SET timezone = 'Pacific/Kiritimati'`);
    const pool = newPool();
    const shown = await pool.query<{ zone: string; offset_hours: string }>(
      `SELECT current_setting('TimeZone') AS zone,
              extract(hour FROM now()::timestamp - (now() AT TIME ZONE 'UTC'))::text AS offset_hours`,
    );
    expect(shown.rows[0]).toEqual({ zone: 'UTC', offset_hours: '0' });
    // A plain pg client without the option sees the database's zone: the option is what pins UTC.
    const plain = new pg.Client({ connectionString: database.url });
    await plain.connect();
    try {
      expect((await plain.query(`SELECT current_setting('TimeZone') AS zone`)).rows[0].zone).toBe(
        'Pacific/Kiritimati',
      );
    } finally {
      await plain.end();
    }
  });

  it('when the URL carries its own options, then they are kept and the session is still in UTC', async () => {
    const databaseName = new URL(database.url).pathname.slice(1);
    await newPool().query(`ALTER DATABASE "${databaseName}" SET timezone = 'Pacific/Kiritimati'`);
    const withOptions = new URL(database.url);
    withOptions.searchParams.set('options', '-c search_path=pg_catalog,public');
    const pool = createPool({
      connectionString: withOptions.toString(),
      max: 1,
      minIdle: 0,
      maxLifetimeSeconds: 60,
      idleTimeoutMs: 10_000,
      connectTimeoutMs: 3_000,
    });
    pools.push(pool);
    const shown = await pool.query(
      `SELECT current_setting('TimeZone') AS zone, current_setting('search_path') AS search_path`,
    );
    expect(shown.rows[0]).toEqual({ zone: 'UTC', search_path: 'pg_catalog,public' });
  });

  it('when a pool is created, then every sizing option reaches pg and the application name reaches the server', async () => {
    const pool = newPool('zs-pool-test');

    expect(pool.options).toMatchObject({
      max: 7,
      min: 2,
      maxLifetimeSeconds: 120,
      idleTimeoutMillis: 30_000,
      connectionTimeoutMillis: 3_000,
    });
    const { rows } = await pool.query<{ name: string }>('SELECT current_setting($1) AS name', [
      'application_name',
    ]);
    expect(rows[0]?.name).toBe('zs-pool-test');
  });

  it('when the registry is scraped, then open and idle connections are read from the pool at that moment', async () => {
    const registry = new Registry();
    const pool = newPool();
    instrumentPool(pool, registry);
    const first = await pool.connect();
    const second = await pool.connect();

    const busy = await registry.metrics();
    first.release();
    second.release();
    const idle = await registry.metrics();

    expect(busy).toContain('db_connections_open 2');
    expect(busy).toContain('db_connections_idle 0');
    expect(idle).toContain('db_connections_open 2');
    expect(idle).toContain('db_connections_idle 2');
  });

  it('when two pools share a registry, then the gauges report their sum', async () => {
    const registry = new Registry();
    const one = newPool();
    const other = newPool();
    instrumentPool(one, registry);
    instrumentPool(other, registry);
    const clients = await Promise.all([one.connect(), other.connect(), other.connect()]);

    const text = await registry.metrics();
    for (const client of clients) client.release();

    expect(text).toContain('db_connections_open 3');
    expect(text).toContain('db_connections_idle 0');
  });
});
