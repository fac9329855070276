/**
 * The service kit: a NATS service is a description (name, database, endpoints, event consumers,
 * periodic jobs, readiness checks) that this package builds, starts and stops.
 */
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
export { processedEventsRetentionMs, pruneProcessedEvents } from './processed-events.js';
