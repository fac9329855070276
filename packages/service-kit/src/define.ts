import type { PrismaPg } from '@prisma/adapter-pg';
import type { NatsConnection, PrincipalSigner, Registration } from '@zerostate/bus';
import type { ServiceDescription } from '@zerostate/config';
import type { Logger, Registry } from '@zerostate/observability';
import type pg from 'pg';
import type { z } from 'zod';
import type { KitConfig } from './config.js';
import type { ConsumerDefinition } from './consumers.js';
import type { JobDefinition } from './jobs.js';

/** The part of a generated Prisma client the kit itself calls. */
export interface KitPrismaClient {
  $disconnect(): Promise<void>;
}

/** What a service's `build` receives: everything the kit already opened, plus a way to add more. */
export interface BuildContext<Config, Client> {
  /** The kit's settings (database, admin port, pool, NATS, logging) and the service's own. */
  config: Readonly<KitConfig & Config>;
  service: ServiceDescription;
  logger: Logger;
  registry: Registry;
  nc: NatsConnection;
  pool: pg.Pool;
  prisma: Client;
  /** Wakes the outbox relay; call after a commit that wrote events. */
  kickOutbox(): void;
  /**
   * Signs this service's own principal (`servicePrincipal(bus)`) on calls to other services;
   * present when BUS_SIGNING_KEYS is set. Pass it as `request(..., { signer })`.
   */
  signer?: PrincipalSigner | undefined;
  /**
   * Registers something `build` opened (worker threads, timers) to be released when the service
   * stops, or when a later start step fails. Releases run in reverse order of registration,
   * after endpoints, consumers and jobs stopped, before the outbox relay stops and Prisma disconnects.
   */
  onStop(name: string, release: () => Promise<unknown>): void;
}

/** What `build` answers: the service's parts, which the kit serves, runs and probes. */
export interface BuiltService<Exposed> {
  /** NATS request/reply endpoints (`endpoint(contract, handler)` from @zerostate/bus). */
  endpoints: Registration[];
  /** Durable JetStream consumers (`defineConsumer`), one per event this service reacts to. */
  // biome-ignore lint/suspicious/noExplicitAny: each consumer has its own payload type.
  consumers?: ConsumerDefinition<any>[];
  /** Periodic jobs (`defineJob`), each run about once per interval across all replicas. */
  jobs?: JobDefinition[];
  /** Extra readiness checks beside `database` and `nats`; each passes when it resolves. */
  readiness?: Record<string, () => Promise<unknown>>;
  /** Handles tests may reach through `service.exposed()` (for example a reconciler). */
  exposed?: Exposed;
}

/**
 * A service: a name (from the package.json manifest), its configuration schema, its Prisma client
 * and a `build` that turns the kit's resources into endpoints, consumers and jobs. The kit owns
 * the pool, Prisma, NATS, the outbox relay, the admin port, in-flight tracking and the stop order.
 */
export interface ServiceDefinition<Schema extends z.ZodType, Client extends KitPrismaClient, Exposed> {
  /** The service's package.json (`new URL('../package.json', import.meta.url)`), read for its manifest. */
  manifest: URL;
  /** Shown in `$SRV.INFO`. */
  description: string;
  /** The service's own settings, parsed from the same environment as the kit's. */
  config: Schema;
  /** Builds the service's Prisma client over the kit's pool. */
  prisma: (adapter: PrismaPg) => Client;
  build: (context: BuildContext<z.output<Schema>, Client>) => Promise<BuiltService<Exposed>>;
}

/** Declares a service; a typed identity, so a description reads as what it is. */
export function defineService<Schema extends z.ZodType, Client extends KitPrismaClient, Exposed = undefined>(
  definition: ServiceDefinition<Schema, Client, Exposed>,
): ServiceDefinition<Schema, Client, Exposed> {
  return Object.freeze(definition);
}
