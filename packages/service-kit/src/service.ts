import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PrismaPg } from '@prisma/adapter-pg';
import {
  connectBus,
  createPrincipalSigner,
  createPrincipalVerifier,
  ensureEventStream,
  type NatsConnection,
  serveEndpoints,
  startOutboxRelay,
  trackInFlight,
} from '@zerostate/bus';
import { readServiceDescription, type ServiceDescription } from '@zerostate/config';
import { createServicePool, instrumentPool, pgOutboxStore, queryMetricsExtension } from '@zerostate/database';
import {
  createLifecycle,
  createRegistry,
  eventLoopDelayGauge,
  type Logger,
  type Registry,
  readinessOf,
  releaseInOrder,
  startAdminServer,
} from '@zerostate/observability';
import type { z } from 'zod';
import { type KitConfig, loadServiceConfig } from './config.js';
import { type StartConsumersOptions, startConsumers } from './consumers.js';
import type { BuildContext, KitPrismaClient, ServiceDefinition } from './define.js';
import { type Jobs, startJobs } from './jobs.js';

export interface StartOptions {
  /** The environment to read settings from (main passes `process.env`; tests a record). */
  env: Record<string, string | undefined>;
  logger: Logger;
  /** Defaults to a fresh registry labelled with the bus name; tests pass their own to read it. */
  registry?: Registry;
  /** A connection the caller owns (and closes); without one the service opens and closes its own. */
  nc?: NatsConnection;
  /**
   * Delivery settings of the event consumers (defaults in `startConsumers`). Tests shorten the
   * ack wait so events a stopped instance had pulled come back at once to the next one.
   */
  consumerSettings?: Pick<StartConsumersOptions, 'ackWaitMs' | 'backoffMs' | 'maxDeliveries'>;
}

/** A service built from its definition: started, probed and stopped by main.ts or a test. */
export interface Service<Config, Exposed> {
  readonly description: ServiceDescription;
  readonly config: Readonly<KitConfig & Config>;
  readonly registry: Registry;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The bound admin port (/health, /ready, /metrics); 0 when not started. */
  adminPort(): number;
  /** What `build` exposed; throws when not started. */
  exposed(): Exposed;
  /** The periodic jobs of a started service (`tick(name)` runs one if it is due). */
  jobs(): Jobs;
}

/** The description a definition's package.json gives, plus its version. */
export function describeDefinition(manifest: URL): ServiceDescription & { version: string; root: string } {
  const path = fileURLToPath(manifest);
  const { version } = JSON.parse(readFileSync(path, 'utf8')) as { version: string };
  return { ...readServiceDescription(path), version, root: fileURLToPath(new URL('../../', manifest)) };
}

/** What a started service holds, filled step by step so a failed start releases what it made. */
interface Held<Exposed> {
  stops: (readonly [string, (() => Promise<unknown>) | undefined])[];
  adminPort?: number;
  exposed?: Exposed;
  jobs?: Jobs;
}

/**
 * Creates a service from its definition. Settings are read now (a bad environment throws, listing
 * every problem); `start` opens, in order, the pool, Prisma, NATS and the event streams, the outbox
 * relay, the service's own parts (`build`), its event consumers and periodic jobs, the admin port
 * and finally the endpoints. `stop` releases in the reverse order of what traffic needs: endpoints
 * drain and in-flight calls finish, then jobs, consumers, what `build` registered, the relay, Prisma, the pool, NATS
 * (if the service opened it) and the admin port last, so probes see the service until the end.
 */
export function createService<Schema extends z.ZodType, Client extends KitPrismaClient, Exposed>(
  definition: ServiceDefinition<Schema, Client, Exposed>,
  options: StartOptions,
): Service<z.output<Schema>, Exposed> {
  const description = describeDefinition(definition.manifest);
  const config = loadServiceConfig(description, definition.config, options.env);
  const { logger } = options;
  const registry = options.registry ?? createRegistry(description.bus);

  const acquire = async (held: Held<Exposed>) => {
    const stops = held.stops;
    const pool = createServicePool(config, config.databaseUrl, description.bus);
    stops.unshift(['database pool', () => pool.end()]);
    instrumentPool(pool, registry);
    // The metrics extension only wraps queries; the client's types are unchanged.
    const prisma = (
      definition.prisma(new PrismaPg(pool)) as unknown as { $extends: (e: unknown) => Client }
    ).$extends(queryMetricsExtension(registry));
    stops.unshift(['prisma', () => prisma.$disconnect()]);
    const loopDelay = eventLoopDelayGauge(registry);
    const nc =
      options.nc ??
      (await connectBus({
        servers: config.NATS_URL,
        name: description.bus,
        user: config.NATS_USER,
        pass: config.NATS_PASSWORD,
      }));
    // Released after the pool, just before the admin port: pushed, not unshifted.
    if (!options.nc) stops.push(['nats', () => nc.drain()]);
    await ensureEventStream(nc, { replicas: config.EVENT_STREAM_REPLICAS });
    const relay = startOutboxRelay({ nc, store: pgOutboxStore(pool), logger, registry });
    stops.unshift(['outbox relay', () => relay.stop()]);
    const context: BuildContext<z.output<Schema>, Client> = {
      config,
      service: description,
      logger,
      registry,
      nc,
      pool,
      prisma,
      kickOutbox: () => relay.kick(),
      signer:
        config.BUS_SIGNING_KEYS &&
        createPrincipalSigner({ issuer: description.bus, keys: config.BUS_SIGNING_KEYS }),
      onStop: (name, release) => stops.unshift([name, release]),
    };
    const built = await definition.build(context);
    held.exposed = built.exposed;
    const consumers = await startConsumers({
      nc,
      service: description.bus,
      consumers: built.consumers ?? [],
      pool,
      logger,
      registry,
      ...options.consumerSettings,
    });
    stops.unshift(['event consumers', () => consumers.stop()]);
    const jobs = await startJobs({ pool, jobs: built.jobs ?? [], logger, registry });
    held.jobs = jobs;
    stops.unshift(['periodic jobs', () => jobs.stop()]);
    const admin = await startAdminServer({
      port: config.adminPort,
      registry,
      ready: () =>
        readinessOf({ database: () => pool.query('SELECT 1'), nats: () => nc.flush(), ...built.readiness }),
    });
    held.adminPort = admin.port;
    stops.push(['admin server', () => admin.close()], ['event loop gauge', async () => loopDelay.stop()]);
    const tracked = trackInFlight(built.endpoints);
    const endpoints = await serveEndpoints(nc, {
      name: description.bus,
      version: description.version,
      description: definition.description,
      registrations: tracked.registrations,
      logger,
      registry,
      // Under test a handler answering a code its contract does not list fails the call loudly.
      strictContracts: config.NODE_ENV === 'test',
      verifier: createPrincipalVerifier({ trusted: config.BUS_TRUSTED_KEYS }),
    });
    stops.unshift([
      'endpoints',
      async () => {
        await endpoints.stop();
        await tracked.idle();
      },
    ]);
  };

  const lifecycle = createLifecycle<Held<Exposed>>({
    name: description.name,
    logger,
    acquire: (held) => {
      held.stops = [];
      return acquire(held);
    },
    release: (held) => releaseInOrder(held.stops, logger),
    describe: (held) => ({ version: description.version, admin_port: held.adminPort }),
  });
  const started = () => {
    const held = lifecycle.current();
    if (!held?.jobs) throw new Error(`${description.name} service not started`);
    return held;
  };

  return {
    description,
    config,
    registry,
    start: lifecycle.start,
    stop: lifecycle.stop,
    adminPort: () => lifecycle.current()?.adminPort ?? 0,
    exposed: () => started().exposed as Exposed,
    jobs: () => started().jobs!,
  };
}

/** The started-service type of a definition: `ServiceOf<typeof paymentService>`. */
export type ServiceOf<Definition> =
  // biome-ignore lint/suspicious/noExplicitAny: matches any client type.
  Definition extends ServiceDefinition<infer Schema, any, infer Exposed>
    ? Service<z.output<Schema>, Exposed>
    : never;
