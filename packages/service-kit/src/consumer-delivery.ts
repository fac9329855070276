import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';
import { headers as createHeaders } from '@nats-io/nats-core';
import {
  type Context,
  context,
  isSpanContextValid,
  type Link,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { carrierOf } from '@zerostate/bus';
import { requestIdHeaderName, timestamp, uuid } from '@zerostate/contracts';
import {
  counter,
  extractTraceContext,
  histogram,
  isTracing,
  type Logger,
  type Registry,
  runWithRequestContext,
} from '@zerostate/observability';
import type pg from 'pg';
import { z } from 'zod';
import type { ConsumedEvent, ConsumerDefinition, ConsumerTransaction } from './consumers.js';

const tracer = trace.getTracer('@zerostate/service-kit');

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

function decode(message: JsMsg, definition: ConsumerDefinition<unknown>): Decoded {
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
function runHandler(
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
async function inTransaction<R>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<R>): Promise<R> {
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

function backoffDelayMs(delivery: DeliveryContext, deliveryCount: number): number {
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

/** Keeps JetStream from redelivering while a slow handler is still running. */
async function whileWorking<T>(
  delivery: DeliveryContext,
  message: JsMsg,
  work: () => Promise<T>,
): Promise<T> {
  const timer = setInterval(() => message.working(), delivery.workingIntervalMs);
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
    const outcome = await whileWorking(delivery, message, () => applyOnce(delivery, event, logger));
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
function requestContextOf(delivery: DeliveryContext, message: JsMsg) {
  const requestId =
    message.headers?.get(requestIdHeaderName) || eventIdOf(message) || `seq-${message.info.streamSequence}`;
  return { requestId: requestId.slice(0, 128), action: delivery.definition.name };
}

function producerContextOf(message: JsMsg): Context {
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

/** A message of a batch and the event it holds. */
interface BatchItem {
  message: JsMsg;
  event: ConsumedEvent<unknown>;
}

/**
 * Records the batch's event ids in one statement and runs the handler once on the ones that
 * were new, all in one transaction. Returns, per item, whether it was applied (else it was a
 * duplicate: applied before, or an id already earlier in this batch). Each id is inserted once,
 * in sorted order, so concurrent batches holding the same ids (another replica, a redelivery)
 * take their processed_events row locks in one order and cannot deadlock on them.
 */
function applyBatchOnce(delivery: DeliveryContext, items: BatchItem[], logger: Logger): Promise<boolean[]> {
  // Postgres compares uuids regardless of case and answers in lowercase.
  const keys = items.map((item) => item.event.id.toLowerCase());
  const ids = [...new Set(keys)].sort();
  return inTransaction(delivery.pool, async (client) => {
    const recorded = await client.query<{ event_id: string }>({
      name: 'kit_processed_events_insert_batch',
      text: `INSERT INTO processed_events (consumer, event_id) SELECT $1, unnest($2::uuid[])
        ON CONFLICT DO NOTHING RETURNING event_id`,
      values: [delivery.durableName, ids],
    });
    const fresh = new Set(recorded.rows.map((row) => row.event_id));
    // Only the first message of an id takes it out of the set.
    const applied = keys.map((key) => fresh.delete(key));
    const events = items.filter((_, index) => applied[index]).map((item) => item.event);
    if (events.length > 0) await runHandler(delivery.definition, events, { client, logger });
    return applied;
  });
}

/** Like whileWorking, for every message of a batch. */
async function whileWorkingOnAll<T>(
  delivery: DeliveryContext,
  messages: readonly JsMsg[],
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

/**
 * Applies the batch and acks all of it, or answers 'fall back' when its transaction failed.
 * Every event is counted by its own outcome, and observed in the duration histogram with the
 * batch's time (the time it took to handle that event).
 */
async function applyBatchInSpan(
  delivery: DeliveryContext,
  items: BatchItem[],
  span: Span,
): Promise<'done' | 'fall back'> {
  const started = performance.now();
  const consumer = delivery.definition.name;
  const logger = delivery.logger.child({
    consumer,
    subject: delivery.definition.subject,
    batch_size: items.length,
  });
  const messages = items.map((item) => item.message);
  let applied: boolean[];
  try {
    applied = await whileWorkingOnAll(delivery, messages, () => applyBatchOnce(delivery, items, logger));
  } catch (error) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: 'fell back' });
    span.setAttribute('zerostate.consumer.outcome', 'fell_back');
    logger.warn({ err: error }, 'event batch failed; delivering its events one at a time');
    return 'fall back';
  }
  for (const message of messages) message.ack();
  const elapsedMs = performance.now() - started;
  const appliedCount = applied.filter(Boolean).length;
  const duplicateCount = applied.length - appliedCount;
  if (appliedCount > 0) delivery.metrics.processed.inc({ consumer, outcome: 'applied' }, appliedCount);
  if (duplicateCount > 0) delivery.metrics.processed.inc({ consumer, outcome: 'duplicate' }, duplicateCount);
  for (const wasApplied of applied) {
    delivery.metrics.duration.observe(
      { consumer, outcome: wasApplied ? 'applied' : 'duplicate' },
      elapsedMs / 1000,
    );
  }
  span.setAttribute('zerostate.consumer.outcome', appliedCount > 0 ? 'applied' : 'duplicate');
  span.setAttribute('zerostate.consumer.applied', appliedCount);
  logger.info(
    {
      outcome: 'applied',
      applied: appliedCount,
      duplicate: duplicateCount,
      duration_ms: Math.round(elapsedMs * 100) / 100,
    },
    'event batch handled',
  );
  return 'done';
}

/**
 * Applies several valid events in one transaction under one span: a child of the first
 * message's producer trace (whose request id the log lines carry), linked to the others'.
 * Answers 'fall back' when the batch must be delivered one message at a time instead.
 */
function applyBatch(delivery: DeliveryContext, items: BatchItem[]): Promise<'done' | 'fall back'> {
  const first = items[0]!.message;
  const links: Link[] = [];
  if (isTracing()) {
    for (const { message } of items.slice(1)) {
      const linked = trace.getSpanContext(producerContextOf(message));
      if (linked && isSpanContextValid(linked)) links.push({ context: linked });
    }
  }
  const attributes = {
    'messaging.system': 'nats',
    'messaging.operation.type': 'process',
    'messaging.destination.name': delivery.definition.subject,
    'messaging.consumer.group.name': delivery.durableName,
    'messaging.batch.message_count': items.length,
  };
  return runWithRequestContext(requestContextOf(delivery, first), () =>
    context.with(producerContextOf(first), () =>
      tracer.startActiveSpan(
        `consume ${delivery.definition.subject}`,
        { kind: SpanKind.CONSUMER, attributes, links },
        async (span) => {
          try {
            return await applyBatchInSpan(delivery, items, span);
          } catch (error) {
            // Not the transaction (that falls back); something around it. A redelivery of an
            // event that did commit is acked as a duplicate.
            span.setStatus({ code: SpanStatusCode.ERROR, message: 'unexpected' });
            delivery.logger.error(
              { err: error, consumer: delivery.definition.name },
              'event batch delivery failed',
            );
            for (const { message } of items)
              message.nak(backoffDelayMs(delivery, message.info.deliveryCount));
            return 'done';
          } finally {
            span.end();
          }
        },
      ),
    ),
  );
}

/**
 * Handles messages a batch consumer took together and settles each exactly once. The valid
 * events are applied in one transaction (`handleBatch` on those new to the consumer) and all
 * acked after its commit. Invalid ones are dead-lettered one by one, as on the per-message
 * path. When the batch transaction fails, each of its messages is delivered on its own, so a
 * poisoned event gets its own retries and dead letter while the others apply. Never throws.
 */
export async function deliverBatch(delivery: DeliveryContext, messages: JsMsg[]): Promise<void> {
  const items: BatchItem[] = [];
  for (const message of messages.length > 1 ? messages : []) {
    const decoded = decode(message, delivery.definition);
    if (decoded.ok) items.push({ message, event: decoded.event });
  }
  const settled = new Set<JsMsg>();
  if (items.length > 1 && (await applyBatch(delivery, items)) === 'done') {
    for (const { message } of items) settled.add(message);
  }
  // The per-message path (which decodes again) for the rest: the invalid messages, a batch that
  // held fewer than two valid ones, or every message of a batch whose transaction failed. Those
  // still waiting their turn tell JetStream they are in progress, so a slow run of them does not
  // outlast the ack wait and come back redelivered without a handler having run.
  const waiting = new Set(messages.filter((message) => !settled.has(message)));
  const timer = setInterval(() => {
    for (const message of waiting) message.working();
  }, delivery.workingIntervalMs);
  try {
    for (const message of [...waiting]) {
      await deliver(delivery, message);
      waiting.delete(message);
    }
  } finally {
    clearInterval(timer);
  }
}
