import { randomBytes } from 'node:crypto';
import { PrismaPg } from '@prisma/adapter-pg';
import {
  connectBus,
  ensureEventStream,
  type NatsConnection,
  type OutboxRelay,
  serveEndpoints,
  startOutboxRelay,
  trackInFlight,
} from '@zerostate/bus';
import { createServicePool, instrumentPool, pgOutboxStore, queryMetricsExtension } from '@zerostate/database';
import {
  type AdminServer,
  createLifecycle,
  createRegistry,
  type EventLoopDelayGauge,
  eventLoopDelayGauge,
  type Logger,
  type Readiness,
  type Registry,
  readinessOf,
  releaseInOrder,
  startAdminServer,
} from '@zerostate/observability';
import type pg from 'pg';
import type { AuthConfig } from './config.js';
import type { AuthPrisma } from './db/prisma.js';
import { PrismaClient } from './generated/prisma/client.js';
import { type AuthDependencies, authRegistrations } from './handlers/index.js';
import { type Housekeeping, startHousekeeping } from './housekeeping.js';
import { createAuthMetrics } from './metrics.js';
import { createPasswordHasher, type PasswordHasher } from './security/password-hasher.js';
import { createSigningKeyRing, type SigningKeyRing } from './security/signing-key-ring.js';

export const serviceName = 'auth';
export const serviceVersion = '0.1.0';

export interface AuthServiceDependencies {
  config: AuthConfig;
  logger: Logger;
  /** Defaults to a fresh registry; tests pass their own to read metrics back. */
  registry?: Registry;
  /** A connection the caller owns (and closes); without one the service opens and closes its own. */
  nc?: NatsConnection;
  /** Passed to `serveEndpoints`: undeclared error codes fail loudly (tests set it). */
  strictContracts?: boolean;
  /** How often each replica re-reads which signing key is active (default 5 s). */
  activeKeyRefreshMs?: number;
}

export interface AuthService {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The bound admin port (/health, /ready, /metrics); 0 before start. */
  adminPort(): number;
  readonly registry: Registry;
}

/** What a started service holds; filled in step by step so a failed start releases what it made. */
interface Resources {
  pool?: pg.Pool;
  prisma?: AuthPrisma;
  passwords?: PasswordHasher;
  loopDelay?: EventLoopDelayGauge;
  admin?: AdminServer;
  nc?: NatsConnection;
  ownsConnection?: boolean;
  relay?: OutboxRelay;
  housekeeping?: Housekeeping;
  drainEndpoints?: () => Promise<void>;
}

/**
 * Builds the auth service: Postgres pool and Prisma client, password workers, signing keys,
 * outbox relay, housekeeping (retention of expired tokens and published events), admin port and
 * the NATS endpoints of `authEndpoints` (queue group `auth`, so replicas share the load).
 * Nothing touches `process` here; main.ts owns env, signals and exit.
 */
export function createAuthService(dependencies: AuthServiceDependencies): AuthService {
  const { config, logger } = dependencies;
  const registry = dependencies.registry ?? createRegistry(serviceName);
  const acquire = async (held: Resources) => {
    const pool = createServicePool(config, config.AUTH_DATABASE_URL, serviceName);
    held.pool = pool;
    instrumentPool(pool, registry);
    // The metrics extension only wraps queries; the client's types are unchanged.
    const prisma = new PrismaClient({ adapter: new PrismaPg(pool) }).$extends(
      queryMetricsExtension(registry),
    ) as unknown as AuthPrisma;
    held.prisma = prisma;
    const passwords = createPasswordHasher({
      cost: config.BCRYPT_COST,
      threads: config.PASSWORD_HASH_THREADS,
    });
    held.passwords = passwords;
    held.loopDelay = eventLoopDelayGauge(registry);
    const keyRing = createSigningKeyRing({
      prisma,
      encryptionKey: config.AUTH_KEY_ENCRYPTION_KEY,
      accessTokenTtlSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
      ...(dependencies.activeKeyRefreshMs === undefined
        ? {}
        : { refreshIntervalMs: dependencies.activeKeyRefreshMs }),
    });
    await keyRing.ensureActiveKey();
    const dummyPasswordHash = await passwords.hash(randomBytes(24).toString('base64url'));
    const nc = dependencies.nc ?? (await connectBus({ servers: config.NATS_URL, name: serviceName }));
    held.nc = nc;
    held.ownsConnection = dependencies.nc === undefined;
    await ensureEventStream(nc);
    const relay = startOutboxRelay({ nc, store: pgOutboxStore(pool), logger, registry });
    held.relay = relay;
    held.housekeeping = startHousekeeping({
      prisma,
      pool,
      logger,
      registry,
      intervalMs: config.AUTH_HOUSEKEEPING_INTERVAL_MS,
    });
    held.admin = await startAdminServer({
      port: config.AUTH_ADMIN_PORT,
      registry,
      ready: () => probeReadiness(pool, nc, keyRing),
    });
    const handlerDependencies: AuthDependencies = {
      config,
      prisma,
      passwords,
      keyRing,
      metrics: createAuthMetrics(registry),
      dummyPasswordHash,
      kickOutbox: () => relay.kick(),
    };
    const tracked = trackInFlight(authRegistrations(handlerDependencies));
    const service = await serveEndpoints(nc, {
      name: serviceName,
      version: serviceVersion,
      description: 'Users, sessions, API keys and signing keys',
      registrations: tracked.registrations,
      logger,
      registry,
      strictContracts: dependencies.strictContracts,
    });
    held.drainEndpoints = async () => {
      await service.stop();
      await tracked.idle();
    };
  };

  const lifecycle = createLifecycle<Resources>({
    name: 'auth',
    logger,
    acquire,
    release: (held) => release(held, logger),
    describe: (held) => ({ version: serviceVersion, admin_port: held.admin?.port }),
  });
  const resources = () => lifecycle.current();

  return {
    start: lifecycle.start,
    stop: lifecycle.stop,
    adminPort: () => resources()?.admin?.port ?? 0,
    registry,
  };
}

/**
 * Stops taking requests and lets in-flight ones finish, then stops the relay, the housekeeping
 * and the password workers, disconnects Prisma, ends the pool, closes the NATS connection only
 * if it opened it, and closes the admin port last so probes see the service until the end.
 */
async function release(held: Resources, logger: Logger): Promise<void> {
  const steps = [
    ['endpoints', held.drainEndpoints],
    ['outbox relay', held.relay && (() => held.relay!.stop())],
    ['housekeeping', held.housekeeping && (() => held.housekeeping!.stop())],
    ['password workers', held.passwords && (() => held.passwords!.stop())],
    ['prisma', held.prisma && (() => held.prisma!.$disconnect())],
    ['database pool', held.pool && (() => held.pool!.end())],
    ['nats', held.ownsConnection ? () => held.nc!.drain() : undefined],
    ['admin server', held.admin && (() => held.admin!.close())],
  ] as const;
  await releaseInOrder(steps, logger);
  held.loopDelay?.stop();
}

async function probeReadiness(
  pool: pg.Pool,
  nc: NatsConnection,
  keyRing: SigningKeyRing,
): Promise<Readiness> {
  return readinessOf({
    database: () => pool.query('SELECT 1'),
    nats: () => nc.flush(),
    signing_key: () => keyRing.activeKey(),
  });
}
