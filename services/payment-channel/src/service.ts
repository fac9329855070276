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
import type { PaymentConfig } from './config.js';
import type { PaymentPrisma } from './db/prisma.js';
import { PrismaClient } from './generated/prisma/client.js';
import { type PaymentDependencies, paymentRegistrations } from './handlers/index.js';
import { createPaymentMetrics } from './metrics.js';
import { housekeep, type PeriodicTask, startPeriodic } from './periodic.js';
import { createReconciler, type Reconciler } from './reconciliation.js';
import { sweepExpiredChannels } from './settlement.js';

/** The NATS micro-service name and queue group; subjects are `svc.payment.<name>`. */
export const serviceName = 'payment';
export const serviceVersion = '0.1.0';

export interface PaymentServiceDependencies {
  config: PaymentConfig;
  logger: Logger;
  /** Defaults to a fresh registry; tests pass their own to read metrics back. */
  registry?: Registry;
  /** A connection the caller owns (and closes); without one the service opens and closes its own. */
  nc?: NatsConnection;
  /** Passed to `serveEndpoints`: undeclared error codes fail loudly (tests set it). */
  strictContracts?: boolean;
}

export interface PaymentService {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The bound admin port (/health, /ready, /metrics); 0 before start. */
  adminPort(): number;
  readonly registry: Registry;
  /** The reconciler of a started service (tests run it directly). */
  reconciler(): Reconciler;
}

/** What a started service holds; filled in step by step so a failed start releases what it made. */
interface Resources {
  pool?: pg.Pool;
  prisma?: PaymentPrisma;
  reconciler?: Reconciler;
  loopDelay?: EventLoopDelayGauge;
  admin?: AdminServer;
  nc?: NatsConnection;
  ownsConnection?: boolean;
  relay?: OutboxRelay;
  periodic?: PeriodicTask[];
  drainEndpoints?: () => Promise<void>;
}

/**
 * Builds the payment-channel service: Postgres pool and Prisma client, outbox relay, the periodic
 * reconciliation, expired-channel sweep and housekeeping, admin port and the NATS endpoints of `paymentEndpoints`
 * (queue group `payment`, so replicas share the load). Nothing touches `process` here; main.ts
 * owns env, signals and exit.
 */
export function createPaymentService(dependencies: PaymentServiceDependencies): PaymentService {
  const { config, logger } = dependencies;
  const registry = dependencies.registry ?? createRegistry(serviceName);
  const acquire = async (held: Resources) => {
    const pool = createServicePool(config, config.PAYMENT_DATABASE_URL, serviceName);
    held.pool = pool;
    instrumentPool(pool, registry);
    // The metrics extension only wraps queries; the client's types are unchanged.
    const prisma = new PrismaClient({ adapter: new PrismaPg(pool) }).$extends(
      queryMetricsExtension(registry),
    ) as unknown as PaymentPrisma;
    held.prisma = prisma;
    held.loopDelay = eventLoopDelayGauge(registry);
    const nc = dependencies.nc ?? (await connectBus({ servers: config.NATS_URL, name: serviceName }));
    held.nc = nc;
    held.ownsConnection = dependencies.nc === undefined;
    await ensureEventStream(nc);
    const relay = startOutboxRelay({ nc, store: pgOutboxStore(pool), logger, registry });
    held.relay = relay;
    const metrics = createPaymentMetrics(registry);
    const reconciler = createReconciler({
      prisma,
      logger,
      metrics,
      intervalMs: config.RECONCILIATION_INTERVAL_MS,
      kickOutbox: () => relay.kick(),
    });
    held.reconciler = reconciler;
    held.periodic = [
      startPeriodic({
        name: 'reconciliation',
        intervalMs: config.RECONCILIATION_INTERVAL_MS,
        logger,
        task: () => reconciler.runScheduled(),
      }),
      startPeriodic({
        name: 'channel expiry',
        intervalMs: config.CHANNEL_SWEEP_INTERVAL_MS,
        logger,
        task: async () => {
          const closed = await sweepExpiredChannels({
            prisma,
            logger,
            graceMs: config.CHANNEL_EXPIRY_GRACE_SECONDS * 1000,
          });
          if (closed > 0) relay.kick();
        },
      }),
      startPeriodic({
        name: 'housekeeping',
        intervalMs: config.PAYMENT_HOUSEKEEPING_INTERVAL_MS,
        logger,
        task: () =>
          housekeep({ prisma, pool, metrics, idempotencyRetentionHours: config.IDEMPOTENCY_RETENTION_HOURS }),
      }),
    ];
    held.admin = await startAdminServer({
      port: config.PAYMENT_ADMIN_PORT,
      registry,
      ready: () => probeReadiness(pool, nc),
    });
    const handlerDependencies: PaymentDependencies = {
      prisma,
      metrics,
      reconciler,
      kickOutbox: () => relay.kick(),
    };
    const tracked = trackInFlight(paymentRegistrations(handlerDependencies));
    const service = await serveEndpoints(nc, {
      name: serviceName,
      version: serviceVersion,
      description: 'Accounts, double-entry ledger, payment channels and task escrow',
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
    name: 'payment',
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
    reconciler: () => {
      const reconciler = resources()?.reconciler;
      if (!reconciler) throw new Error('payment service not started');
      return reconciler;
    },
  };
}

/**
 * Stops taking requests and lets in-flight ones finish, then stops the relay and the periodic
 * tasks, disconnects Prisma, ends the pool, closes the NATS connection only
 * if it opened it, and closes the admin port last so probes see the service until the end.
 */
async function release(held: Resources, logger: Logger): Promise<void> {
  const steps = [
    ['endpoints', held.drainEndpoints],
    ['outbox relay', held.relay && (() => held.relay!.stop())],
    ['periodic tasks', held.periodic && (() => Promise.all(held.periodic!.map((task) => task.stop())))],
    ['prisma', held.prisma && (() => held.prisma!.$disconnect())],
    ['database pool', held.pool && (() => held.pool!.end())],
    ['nats', held.ownsConnection ? () => held.nc!.drain() : undefined],
    ['admin server', held.admin && (() => held.admin!.close())],
  ] as const;
  await releaseInOrder(steps, logger);
  held.loopDelay?.stop();
}

async function probeReadiness(pool: pg.Pool, nc: NatsConnection): Promise<Readiness> {
  return readinessOf({
    database: () => pool.query('SELECT 1'),
    nats: () => nc.flush(),
  });
}
