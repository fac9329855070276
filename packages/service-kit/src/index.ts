/**
 * The service kit: a NATS service is a description (name, database, endpoints, event consumers,
 * periodic jobs, readiness checks) that this package builds, starts and stops. `main.ts` and
 * `migrate.ts` of a service use the `./main` and `./migrate` entry points.
 */
export { type KitConfig, kitConfigSchema, loadServiceConfig } from './config.js';
export { deadLetterHeaderNames } from './consumer-delivery.js';
export {
  type ConsumedEvent,
  type ConsumerDefinition,
  type ConsumerTransaction,
  defineConsumer,
  type RunningConsumers,
  type StartConsumersOptions,
  startConsumers,
} from './consumers.js';
export {
  type BuildContext,
  type BuiltService,
  defineService,
  type KitPrismaClient,
  type ServiceDefinition,
} from './define.js';
export { defineJob, type JobDefinition, type Jobs, startJobs } from './jobs.js';
export { migrateService, migrationsDirOf } from './migrate.js';
export { processedEventsRetentionMs, pruneProcessedEvents } from './processed-events.js';
export {
  createService,
  describeDefinition,
  type Service,
  type ServiceOf,
  type StartOptions,
} from './service.js';
