import { type Gauge, gauge, type Registry } from '@zerostate/observability';
import pg from 'pg';

export interface PoolOptions {
  connectionString: string;
  /** Most connections open at once (seed: 100). */
  max: number;
  /** Idle connections kept warm instead of being closed after `idleTimeoutMs` (seed: 20). */
  minIdle: number;
  /** A connection is closed once it is this old, so load spreads after a failover (seed: 300). */
  maxLifetimeSeconds: number;
  /** An idle connection beyond `minIdle` closes after this long (seed: 60,000). */
  idleTimeoutMs: number;
  /** How long a checkout may wait for a new connection before it fails. */
  connectTimeoutMs: number;
  /** Shown in pg_stat_activity, so an operator can tell which service holds a connection. */
  applicationName?: string;
}

/** The pool settings every service reads from its environment (`databasePoolConfig`). */
export interface PoolSettings {
  DB_POOL_MAX: number;
  DB_POOL_MIN_IDLE: number;
  DB_POOL_MAX_LIFETIME_SECONDS: number;
  DB_POOL_IDLE_TIMEOUT_MS: number;
  DB_POOL_CONNECT_TIMEOUT_MS: number;
}

/** A service's pool from its configuration: its database URL, pool settings and name. */
export function createServicePool(
  settings: PoolSettings,
  connectionString: string,
  applicationName: string,
): pg.Pool {
  return createPool({
    connectionString,
    max: settings.DB_POOL_MAX,
    minIdle: settings.DB_POOL_MIN_IDLE,
    maxLifetimeSeconds: settings.DB_POOL_MAX_LIFETIME_SECONDS,
    idleTimeoutMs: settings.DB_POOL_IDLE_TIMEOUT_MS,
    connectTimeoutMs: settings.DB_POOL_CONNECT_TIMEOUT_MS,
    applicationName,
  });
}

/**
 * The connection string with `-c TimeZone=UTC` added to its `options` parameter, so every session
 * works in UTC whatever the server's TimeZone: Prisma's driver adapter sends a Date as a
 * wall-clock string without offset, which Postgres reads in the session zone, so a non-UTC zone
 * would shift every timestamp the application writes (retention windows, daily statistics). It
 * goes into the URL because pg lets a URL's own `options` replace one passed beside it.
 */
export function withUtcSessions(connectionString: string): string {
  const url = new URL(connectionString);
  const existing = url.searchParams.get('options');
  url.searchParams.set('options', existing ? `${existing} -c TimeZone=UTC` : '-c TimeZone=UTC');
  return url.toString();
}

/**
 * A pg pool with every sizing option passed explicitly (see `databasePoolConfig` in
 * @zerostate/config for the environment variables and seed defaults).
 */
export function createPool(options: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: withUtcSessions(options.connectionString),
    max: options.max,
    min: options.minIdle,
    maxLifetimeSeconds: options.maxLifetimeSeconds,
    idleTimeoutMillis: options.idleTimeoutMs,
    connectionTimeoutMillis: options.connectTimeoutMs,
    ...(options.applicationName === undefined ? {} : { application_name: options.applicationName }),
  });
  // An idle connection that the server closes (restart, failover, admin kill) is emitted here;
  // without a listener Node would crash the process. The pool has already discarded the client,
  // and the next checkout opens a fresh one, so there is nothing else to do.
  pool.on('error', () => undefined);
  return pool;
}

/** Pools reported by each gauge; a process may instrument more than one pool on one registry. */
const poolsByGauge = new WeakMap<Gauge<string>, Set<pg.Pool>>();

function sampledGauge(
  registry: Registry,
  name: string,
  help: string,
  sample: (pool: pg.Pool) => number,
): Set<pg.Pool> {
  const metric = gauge(registry, name, help);
  let pools = poolsByGauge.get(metric);
  if (pools === undefined) {
    const tracked = new Set<pg.Pool>();
    pools = tracked;
    poolsByGauge.set(metric, tracked);
    // prom-client calls `collect` at scrape time; the helper has no option for it, so it is set
    // on the instance, which is where prom-client looks for it.
    (metric as unknown as { collect: () => void }).collect = () => {
      let total = 0;
      for (const pool of tracked) total += sample(pool);
      metric.set(total);
    };
  }
  return pools;
}

/**
 * Reports `db_connections_open` and `db_connections_idle`, read from the pool when the registry
 * is scraped (summed over every pool instrumented on that registry).
 */
export function instrumentPool(pool: pg.Pool, registry: Registry): void {
  sampledGauge(
    registry,
    'db_connections_open',
    'Open database connections (busy and idle).',
    (each) => each.totalCount,
  ).add(pool);
  sampledGauge(
    registry,
    'db_connections_idle',
    'Idle database connections in the pool.',
    (each) => each.idleCount,
  ).add(pool);
}
