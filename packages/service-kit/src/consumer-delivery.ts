import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';
import { headers as createHeaders } from '@nats-io/nats-core';
import { type Context, context, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { carrierOf } from '@zerostate/bus';
import { requestIdHeaderName, timestamp, uuid } from '@zerostate/contracts';
import {
  counter,
  extractTraceContext,
  histogram,
  type Logger,
  type Registry,
  runWithRequestContext,
} from '@zerostate/observability';
import type pg from 'pg';
import { z } from 'zod';
import type { ConsumedEvent, ConsumerDefinition, ConsumerTransaction } from './consumers.js';

export const tracer = trace.getTracer('@zerostate/service-kit');

/** The envelope the outbox relay publishes (see EventEnvelope in @zerostate/contracts). */
const envelopeSchema = z.object({
  id: uuid,
  type: z.string().min(1).max(200),
  occurred_at: timestamp,
  data: z.unknown(),
});

/** Header names a dead letter adds beside the original message's headers. */
export const deadLetterHeaderNames = {
  consumer: 'zs-dead-letter-consumer',
  subject: 'zs-dead-letter-subject',
  reason: 'zs-dead-letter-reason',
  error: 'zs-dead-letter-error',
  deliveries: 'zs-dead-letter-deliveries',
  streamSequence: 'zs-dead-letter-stream-sequence',
  eventId: 'zs-dead-letter-event-id',
} as const;

/** Why an event went to the dead letters: it could never be handled, or the handler kept failing. */
type DeadLetterReason = 'invalid' | 'handler_failed';

const errorTextLengthMax = 1_000;
const publishTimeoutMs = 5_000;

export interface ConsumerMetrics {
  processed: ReturnType<typeof counter>;
  failed: ReturnType<typeof counter>;
  deadLettered: ReturnType<typeof counter>;
  duration: ReturnType<typeof histogram>;
}

/**
 * Registers the consumer metrics, with every consumer's series at zero: Prometheus' increase()
 * sees nothing when a counter's first sample is already 1, so a first dead letter would not alert.
 */
export function consumerMetrics(registry: Registry, consumerNames: readonly string[]): ConsumerMetrics {
  const metrics: ConsumerMetrics = {
    processed: counter(
      registry,
      'events_processed_total',
      'Events a consumer applied, or found already applied (a redelivery), by consumer and outcome.',
      ['consumer', 'outcome'],
    ),
    failed: counter(registry, 'events_failed_total', 'Event deliveries whose handler failed.', ['consumer']),
    deadLettered: counter(
      registry,
      'events_dead_lettered_total',
      'Events a consumer gave up on and published to dlq.<service>.<consumer>.',
      ['consumer'],
    ),
    duration: histogram(
      registry,
      'event_handling_duration_seconds',
      'Time to handle one event delivery, by consumer and outcome; each event of a batch counts with the time of its batch.',
      ['consumer', 'outcome'],
    ),
  };
  for (const consumer of consumerNames) {
    metrics.failed.inc({ consumer }, 0);
    metrics.deadLettered.inc({ consumer }, 0);
  }
  return metrics;
}

/** Everything one running consumer needs to handle a delivery. */
export interface DeliveryContext {
  definition: ConsumerDefinition<unknown>;
  /** `<service>_<name>`: the JetStream durable name and the key in processed_events. */
  durableName: string;
  deadLetterSubject: string;
  js: JetStreamClient;
  pool: pg.Pool;
  logger: Logger;
  metrics: ConsumerMetrics;
  maxDeliveries: number;
  backoffMs: readonly number[];
  /** Half the ack wait: how often a long handler tells JetStream it is still working. */
  workingIntervalMs: number;
}

type Decoded = { ok: true; event: ConsumedEvent<unknown> } | { ok: false; error: string };

export function decode(message: JsMsg, definition: ConsumerDefinition<unknown>): Decoded {
  let body: unknown;
  try {
    body = message.json();
  } catch {
    return { ok: false, error: 'the message is not JSON' };
  }
  const envelope = envelopeSchema.safeParse(body);
  if (!envelope.success) return { ok: false, error: `not an event envelope: ${envelope.error.message}` };
  const data = definition.schema ? definition.schema.safeParse(envelope.data.data) : undefined;
  if (data && !data.success) return { ok: false, error: `payload fails the schema: ${data.error.message}` };
  const { id, type, occurred_at: occurredAt } = envelope.data;
  return {
    ok: true,
    event: { id, type, occurredAt: new Date(occurredAt), data: data ? data.data : envelope.data.data },
  };
}

function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** A header value may not hold line breaks (zod's messages have them); long ones are cut. */
function headerValue(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').slice(0, errorTextLengthMax);
}

/** Calls the definition's handler on events new to the consumer (one, unless it batches). */
export function runHandler(
  definition: ConsumerDefinition<unknown>,
  events: ConsumedEvent<unknown>[],
  transaction: ConsumerTransaction,
): Promise<void> {
  if (definition.handleBatch) return definition.handleBatch(events, transaction);
  return definition.handle!(events[0]!, transaction);
}

/**
 * Runs `work` in a transaction and commits it, or rolls it back and rethrows. A connection
 * whose ROLLBACK failed is destroyed rather than returned to the pool.
 */
export async function inTransaction<R>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<R>,
): Promise<R> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await work(client);
    // A handler that swallowed a failed statement leaves the transaction aborted; Postgres then
    // answers COMMIT with ROLLBACK instead of an error.
    const committed = await client.query('COMMIT');
    if (committed.command !== 'COMMIT') throw new Error('the handler left its transaction aborted');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch((rollbackError: unknown) => {
      broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
    });
    throw error;
  } finally {
    client.release(broken);
  }
}

/**
 * Runs the handler in one transaction that first records the event id for this consumer. A
 * redelivered event finds its id already there and is committed untouched. Concurrent deliveries
 * of one event wait on each other's row, so exactly one applies it.
 */
function applyOnce(
  delivery: DeliveryContext,
  event: ConsumedEvent<unknown>,
  logger: Logger,
): Promise<'applied' | 'duplicate'> {
  return inTransaction(delivery.pool, async (client) => {
    const recorded = await client.query({
      name: 'kit_processed_event_insert',
      text: 'INSERT INTO processed_events (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING',
      values: [delivery.durableName, event.id],
    });
    if (recorded.rowCount === 0) return 'duplicate';
    await runHandler(delivery.definition, [event], { client, logger });
    return 'applied';
  });
}

/** The original payload and headers (without JetStream's own), plus why it was given up on. */
async function publishDeadLetter(
  delivery: DeliveryContext,
  message: JsMsg,
  reason: DeadLetterReason,
  error: string,
): Promise<void> {
  const headers = createHeaders();
  for (const key of message.headers?.keys() ?? []) {
    if (key.toLowerCase().startsWith('nats-')) continue;
    for (const value of message.headers!.values(key)) headers.append(key, value);
  }
  headers.set(deadLetterHeaderNames.consumer, delivery.durableName);
  headers.set(deadLetterHeaderNames.subject, message.subject);
  headers.set(deadLetterHeaderNames.reason, reason);
  headers.set(deadLetterHeaderNames.error, headerValue(error));
  headers.set(deadLetterHeaderNames.deliveries, String(message.info.deliveryCount));
  headers.set(deadLetterHeaderNames.streamSequence, String(message.info.streamSequence));
  const eventId = message.headers?.get('Nats-Msg-Id');
  if (eventId) headers.set(deadLetterHeaderNames.eventId, eventId);
  // One dead letter per stream message and consumer, even when the term after it was lost.
  const msgID = `${delivery.durableName}:${message.info.streamSequence}`;
  await delivery.js.publish(delivery.deadLetterSubject, message.data, {
    headers,
    msgID,
    timeout: publishTimeoutMs,
  });
}

export function backoffDelayMs(delivery: DeliveryContext, deliveryCount: number): number {
  const index = Math.min(Math.max(deliveryCount - 1, 0), delivery.backoffMs.length - 1);
  return delivery.backoffMs[index]!;
}

/** Dead-letters and terminates; when even that fails, naks so a later delivery tries again. */
async function giveUp(
  delivery: DeliveryContext,
  message: JsMsg,
  reason: DeadLetterReason,
  error: string,
  logger: Logger,
): Promise<string> {
  try {
    await publishDeadLetter(delivery, message, reason, error);
  } catch (publishError) {
    logger.error({ err: publishError }, 'dead letter could not be published; the event will be redelivered');
    message.nak(backoffDelayMs(delivery, message.info.deliveryCount));
    return 'dead_letter_failed';
  }
  // No reason argument: servers before 2.11 do not parse `+TERM <reason>` and leave the message
  // pending, to be redelivered after the ack wait. The reason travels in the dead letter instead.
  message.term();
  delivery.metrics.deadLettered.inc({ consumer: delivery.definition.name });
  logger.error(
    {
      reason,
      error,
      deliveries: message.info.deliveryCount,
      dead_letter_subject: delivery.deadLetterSubject,
    },
    'event dead-lettered',
  );
  return 'dead_lettered';
}

/**
 * Keeps JetStream from redelivering while slow work on these messages is still running. The
 * collection is read at every tick, so a caller may remove messages as it settles them.
 */
export async function whileWorking<T>(
  delivery: DeliveryContext,
  messages: Iterable<JsMsg>,
  work: () => Promise<T>,
): Promise<T> {
  const timer = setInterval(() => {
    for (const message of messages) message.working();
  }, delivery.workingIntervalMs);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

/** Returns the outcome label: applied, duplicate, retry, dead_lettered or dead_letter_failed. */
async function handleDecoded(
  delivery: DeliveryContext,
  message: JsMsg,
  event: ConsumedEvent<unknown>,
  logger: Logger,
): Promise<string> {
  const consumer = delivery.definition.name;
  try {
    const outcome = await whileWorking(delivery, [message], () => applyOnce(delivery, event, logger));
    message.ack();
    delivery.metrics.processed.inc({ consumer, outcome });
    return outcome;
  } catch (error) {
    delivery.metrics.failed.inc({ consumer });
    const deliveries = message.info.deliveryCount;
    if (deliveries >= delivery.maxDeliveries) {
      return giveUp(delivery, message, 'handler_failed', errorText(error), logger);
    }
    const retryInMs = backoffDelayMs(delivery, deliveries);
    logger.warn({ err: error, deliveries, retry_in_ms: retryInMs }, 'event handler failed; will retry');
    message.nak(retryInMs);
    return 'retry';
  }
}

async function deliverInSpan(delivery: DeliveryContext, message: JsMsg, span: Span): Promise<void> {
  const started = performance.now();
  const decoded = decode(message, delivery.definition);
  const logger = delivery.logger.child({
    consumer: delivery.definition.name,
    subject: message.subject,
    ...(decoded.ok ? { event_id: decoded.event.id } : { stream_sequence: message.info.streamSequence }),
  });
  const outcome = decoded.ok
    ? await handleDecoded(delivery, message, decoded.event, logger)
    : await giveUp(delivery, message, 'invalid', decoded.error, logger);
  if (outcome !== 'applied' && outcome !== 'duplicate') {
    span.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
  }
  span.setAttribute('zerostate.consumer.outcome', outcome);
  const elapsedMs = performance.now() - started;
  delivery.metrics.duration.observe({ consumer: delivery.definition.name, outcome }, elapsedMs / 1000);
  logger.info({ outcome, duration_ms: Math.round(elapsedMs * 100) / 100 }, 'event handled');
}

function eventIdOf(message: JsMsg): string | undefined {
  return message.headers?.get('Nats-Msg-Id') || undefined;
}

/** The producer's request id, else the event id: what the consumer's log lines carry. */
export function requestContextOf(delivery: DeliveryContext, message: JsMsg) {
  const requestId =
    message.headers?.get(requestIdHeaderName) || eventIdOf(message) || `seq-${message.info.streamSequence}`;
  return { requestId: requestId.slice(0, 128), action: delivery.definition.name };
}

export function producerContextOf(message: JsMsg): Context {
  return extractTraceContext(message.headers ? carrierOf(message.headers) : undefined);
}

/**
 * Handles one delivery and settles it exactly once (ack, nak or term). Never throws: a failure
 * anywhere becomes a nak with backoff, so the consume loop keeps going.
 */
export async function deliver(delivery: DeliveryContext, message: JsMsg): Promise<void> {
  const attributes = {
    'messaging.system': 'nats',
    'messaging.operation.type': 'process',
    'messaging.destination.name': message.subject,
    'messaging.consumer.group.name': delivery.durableName,
    'messaging.message.id': eventIdOf(message) ?? '',
    'zerostate.delivery_count': message.info.deliveryCount,
  };
  await runWithRequestContext(requestContextOf(delivery, message), () =>
    context.with(producerContextOf(message), () =>
      tracer.startActiveSpan(
        `consume ${message.subject}`,
        { kind: SpanKind.CONSUMER, attributes },
        async (span) => {
          try {
            await deliverInSpan(delivery, message, span);
          } catch (error) {
            span.setStatus({ code: SpanStatusCode.ERROR, message: 'unexpected' });
            delivery.logger.error(
              { err: error, consumer: delivery.definition.name },
              'event delivery failed',
            );
            message.nak(backoffDelayMs(delivery, message.info.deliveryCount));
          } finally {
            span.end();
          }
        },
      ),
    ),
  );
}
