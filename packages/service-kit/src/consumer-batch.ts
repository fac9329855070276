import type { ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import {
  context,
  isSpanContextValid,
  type Link,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { isTracing, type Logger, runWithRequestContext } from '@zerostate/observability';
import {
  backoffDelayMs,
  type DeliveryContext,
  decode,
  deliver,
  inTransaction,
  producerContextOf,
  requestContextOf,
  runHandler,
  tracer,
  whileWorking,
} from './consumer-delivery.js';
import type { ConsumedEvent } from './consumers.js';

// A batch consumer (`handleBatch`): gathering a batch from the subscription, and its delivery:
// the events applied in one transaction, with the per-message path of consumer-delivery.ts as
// the fallback.

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
    applied = await whileWorking(delivery, messages, () => applyBatchOnce(delivery, items, logger));
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
  await whileWorking(delivery, waiting, async () => {
    for (const message of [...waiting]) {
      await deliver(delivery, message);
      waiting.delete(message);
    }
  });
}

/** What `Promise.race` answers when no message was waiting. */
const nothingWaiting = Symbol('nothing waiting');

/** Resolves after the I/O already received has been handled: messages in by then are waiting. */
function afterPendingIo(): Promise<typeof nothingWaiting> {
  return new Promise((resolve) => setImmediate(resolve, nothingWaiting));
}

/** The next message if it comes within `ms`, else `nothingWaiting`. */
async function within<T>(next: Promise<T>, ms: number): Promise<T | typeof nothingWaiting> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      next,
      new Promise<typeof nothingWaiting>((resolve) => {
        timer = setTimeout(resolve, ms, nothingWaiting);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Takes the next message, then every further one already waiting or arriving within `lingerMs`
 * of the first (up to `batchMax`), and delivers them together. Whether one is waiting is asked of
 * the iterator itself, not of getPending() (which also counts queued status callbacks and so could promise a message that
 * never comes): a `next()` that has not settled by the next turn of the event loop means none
 * is, and that pending `next()` becomes the first message of the following batch.
 */
export async function consumeBatches(
  delivery: DeliveryContext,
  messages: ConsumerMessages,
  batchMax: number,
  lingerMs: number,
  signal: AbortSignal,
) {
  const iterator = messages[Symbol.asyncIterator]();
  const take = () => {
    const next = iterator.next();
    // It may settle (or fail, when the subscription ends) while a batch is being delivered.
    next.catch(() => undefined);
    return next;
  };
  let next = take();
  let ended = false;
  while (!ended) {
    const first = await next;
    if (first.done) return;
    const batch = [first.value];
    const lingerUntil = performance.now() + lingerMs;
    next = take();
    try {
      while (batch.length < batchMax) {
        let waiting = await Promise.race([next, afterPendingIo()]);
        const lingerLeft = lingerUntil - performance.now();
        if (waiting === nothingWaiting && lingerLeft > 0 && !signal.aborted)
          waiting = await within(next, lingerLeft);
        if (waiting === nothingWaiting) break;
        if (waiting.done) {
          ended = true;
          break;
        }
        batch.push(waiting.value);
        next = take();
      }
    } catch (error) {
      // The subscription failed while gathering: hand back what was taken, then restart.
      for (const message of batch) message.nak();
      throw error;
    }
    // Pulled before the stop: hand them straight back so another replica takes them now.
    if (signal.aborted) for (const message of batch) message.nak();
    else await deliverBatch(delivery, batch);
  }
}
