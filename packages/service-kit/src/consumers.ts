import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AckPolicy,
  type ConsumerConfig,
  type ConsumerMessages,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { deadLetterStream, eventStream } from '@zerostate/bus';
import type { Logger, Registry } from '@zerostate/observability';
import type pg from 'pg';
import type { z } from 'zod';
import { consumeBatches } from './consumer-batch.js';
import { type ConsumerMetrics, consumerMetrics, type DeliveryContext, deliver } from './consumer-delivery.js';

/** An event as a handler receives it: the relay's envelope with its payload validated. */
export interface ConsumedEvent<T> {
  id: string;
  type: string;
  occurredAt: Date;
  data: T;
}

/** What a handler works with: the transaction that also records the event as processed. */
export interface ConsumerTransaction {
  /** Inside an open transaction; the kit commits it after the handler returns. Never commit here. */
  client: pg.PoolClient;
  /**
   * Carries the consumer, the request id and the trace id on every line, and the event id when
   * the transaction holds one event (a batch's carries its size instead).
   */
  logger: Logger;
}

/**
 * One durable, idempotent JetStream consumer of one event subject. It has exactly one of
 * `handle` (one event per transaction) and `handleBatch` (several waiting events per transaction).
 */
export interface ConsumerDefinition<T> {
  /** Lowercase kebab, unique within the service; part of the durable name `<service>_<name>`. */
  name: string;
  /** An event subject on the EVENTS stream, e.g. `evt.payment.deposit.completed`. */
  subject: string;
  /** Validates the payload; an event that fails it goes straight to the dead letters. */
  schema?: z.ZodType<T>;
  /**
   * Applies the event inside the given transaction. Throwing rolls it back and the event is
   * redelivered with backoff, up to the delivery cap, then dead-lettered.
   */
  handle?(event: ConsumedEvent<T>, transaction: ConsumerTransaction): Promise<void>;
  /**
   * Applies several events at once inside the given transaction: the ones already waiting when
   * the consumer takes the next message (up to `batchMax`), each new to this consumer and each
   * id once, in stream order. For high-volume events whose effects aggregate (counters). Throwing
   * rolls the whole batch back; the kit then delivers its events one at a time, each through
   * `handleBatch([event])` in its own transaction with the usual retries and dead letter, so one
   * bad event does not hold back the others.
   */
  handleBatch?(events: ConsumedEvent<T>[], transaction: ConsumerTransaction): Promise<void>;
  /** The most events one `handleBatch` call gets, 1 to 500 (default 100); also the prefetch. */
  batchMax?: number;
  /**
   * How long a batch waits for more events after its first, 0 to 1,000 ms (default 10): a batch
   * consumer trades that much delay of its effects for fewer, larger transactions under load.
   * It goes as soon as `batchMax` events are in.
   */
  batchLingerMs?: number;
}

const batchMaxDefault = 100;
const batchMaxLimit = 500;
const batchLingerDefaultMs = 10;
const batchLingerLimitMs = 1_000;
const kebab = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;
/** `evt.` then dot-separated tokens; `*` and a final `>` are allowed as in any NATS filter. */
const eventSubject = /^evt(?:\.(?:[a-z0-9]+(?:-[a-z0-9]+)*|\*))+(?:\.>)?$/;

/** Checks a consumer description once, where it is written: a bad one is a programmer error. */
export function defineConsumer<T>(definition: ConsumerDefinition<T>): ConsumerDefinition<T> {
  assert(kebab.test(definition.name), `consumer name must be lowercase kebab: ${definition.name}`);
  assert(
    eventSubject.test(definition.subject),
    `consumer ${definition.name} must filter an event subject (evt.<service>.<entity>.<past-tense>): ${definition.subject}`,
  );
  const handlers = [definition.handle, definition.handleBatch].filter((handler) => handler !== undefined);
  assert(
    handlers.length === 1 && typeof handlers[0] === 'function',
    `consumer ${definition.name} needs exactly one of handle and handleBatch`,
  );
  if (definition.handleBatch) {
    const batchMax = definition.batchMax ?? batchMaxDefault;
    assert(
      Number.isSafeInteger(batchMax) && batchMax >= 1 && batchMax <= batchMaxLimit,
      `consumer ${definition.name}: batchMax must be a whole number from 1 to ${batchMaxLimit}`,
    );
    const batchLingerMs = definition.batchLingerMs ?? batchLingerDefaultMs;
    assert(
      Number.isSafeInteger(batchLingerMs) && batchLingerMs >= 0 && batchLingerMs <= batchLingerLimitMs,
      `consumer ${definition.name}: batchLingerMs must be a whole number from 0 to ${batchLingerLimitMs}`,
    );
    return Object.freeze({ ...definition, batchMax, batchLingerMs });
  }
  assert(
    definition.batchMax === undefined && definition.batchLingerMs === undefined,
    `consumer ${definition.name}: batchMax and batchLingerMs need handleBatch`,
  );
  return Object.freeze({ ...definition });
}

export interface StartConsumersOptions {
  nc: NatsConnection;
  /** The service's bus name, e.g. `payment`: the first part of durable and dead-letter names. */
  service: string;
  // biome-ignore lint/suspicious/noExplicitAny: each consumer has its own payload type.
  consumers: ConsumerDefinition<any>[];
  pool: pg.Pool;
  logger: Logger;
  registry: Registry;
  /** Deliveries before an event whose handler keeps failing is dead-lettered (default 5). */
  maxDeliveries?: number;
  /** Redelivery delay after the n-th failed delivery; the last entry repeats (default 1 s to 2 min). */
  backoffMs?: number[];
  /** How long JetStream waits for an ack before redelivering (default 30 s). */
  ackWaitMs?: number;
}

export interface RunningConsumers {
  /** Stops pulling, lets the events being handled finish, hands buffered ones back; resolves then. */
  stop(): Promise<void>;
}

const maxDeliveriesDefault = 5;
const backoffDefaultMs = [1_000, 5_000, 30_000, 120_000];
const ackWaitDefaultMs = 30_000;
/**
 * Messages pulled ahead of the one being handled. Small, because a buffered message's ack wait
 * runs while it waits its turn. A batch consumer pulls `batchMax` ahead: its buffered messages
 * wait about one batch, not one event each.
 */
const prefetchMessages = 8;
/**
 * Deliveries JetStream allows beyond `maxDeliveries`, so a dead letter whose publish failed is
 * tried again instead of the event being dropped by the server's own cap.
 */
const deadLetterRetries = 3;
const restartDelayMs = 1_000;
const nanos = (ms: number) => ms * 1_000_000;

function checkOptions(options: StartConsumersOptions) {
  const maxDeliveries = options.maxDeliveries ?? maxDeliveriesDefault;
  const backoffMs = options.backoffMs ?? backoffDefaultMs;
  const ackWaitMs = options.ackWaitMs ?? ackWaitDefaultMs;
  assert(kebab.test(options.service), `service must be lowercase kebab: ${options.service}`);
  assert(
    Number.isSafeInteger(maxDeliveries) && maxDeliveries >= 1 && maxDeliveries <= 100,
    'maxDeliveries must be a whole number from 1 to 100',
  );
  assert(
    backoffMs.length > 0 && backoffMs.every((ms) => Number.isSafeInteger(ms) && ms >= 0),
    'backoffMs must list one or more whole, non-negative delays',
  );
  assert(Number.isSafeInteger(ackWaitMs) && ackWaitMs >= 1_000, 'ackWaitMs must be at least 1 s');
  const names = options.consumers.map((consumer) => consumer.name);
  const repeated = names.filter((name, index) => names.indexOf(name) !== index);
  assert(repeated.length === 0, `consumer names must be unique: ${repeated.join(', ')}`);
  return { maxDeliveries, backoffMs, ackWaitMs };
}

function consumerConfig(
  durableName: string,
  definition: ConsumerDefinition<unknown>,
  settings: { maxDeliveries: number; ackWaitMs: number },
): Partial<ConsumerConfig> {
  return {
    durable_name: durableName,
    description: `${definition.name} on ${definition.subject}`,
    filter_subject: definition.subject,
    ack_policy: AckPolicy.Explicit,
    // A new consumer starts with what the stream still holds (up to 7 days of events).
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(settings.ackWaitMs),
    max_deliver: settings.maxDeliveries + deadLetterRetries,
    // No server-side `backoff`: it replaces ack_wait with its first step, which would redeliver
    // prefetched messages still waiting their turn. Failed handlers are nak'ed with a delay.
  };
}

/** Creates the durable consumer, or brings an existing one's delivery settings up to date. */
async function ensureConsumer(manager: JetStreamManager, config: Partial<ConsumerConfig>): Promise<void> {
  const durable = config.durable_name!;
  let live: ConsumerConfig | undefined;
  try {
    live = (await manager.consumers.info(eventStream.name, durable)).config;
  } catch (error) {
    if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.ConsumerNotFound))
      throw error;
  }
  if (live === undefined) {
    await manager.consumers.add(eventStream.name, config);
    return;
  }
  if (live.filter_subject !== config.filter_subject) {
    throw new Error(
      `consumer ${durable} already filters ${live.filter_subject}, not ${config.filter_subject}: ` +
        'give a consumer of another subject another name',
    );
  }
  if (live.ack_wait !== config.ack_wait || live.max_deliver !== config.max_deliver) {
    await manager.consumers.update(eventStream.name, durable, {
      ack_wait: config.ack_wait!,
      max_deliver: config.max_deliver!,
    });
  }
}

async function requireStreams(manager: JetStreamManager): Promise<void> {
  for (const name of [eventStream.name, deadLetterStream.name]) {
    try {
      await manager.streams.info(name);
    } catch (error) {
      if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound) {
        throw new Error(`stream ${name} is missing: call ensureEventStream before startConsumers`, {
          cause: error,
        });
      }
      throw error;
    }
  }
}

interface ConsumerLoop {
  messages: ConsumerMessages | undefined;
  running: Promise<void>;
}

/** Handles messages one at a time; those pulled before a stop are handed straight back. */
async function consumeEach(delivery: DeliveryContext, messages: ConsumerMessages, signal: AbortSignal) {
  for await (const message of messages) {
    // Pulled before the stop: hand it straight back so another replica takes it now.
    if (signal.aborted) message.nak();
    else await deliver(delivery, message);
  }
}

/**
 * Pulls and handles messages (one at a time, or in batches for a `handleBatch` consumer) until
 * stopped. When the subscription ends (NATS reconnect, consumer deleted, heartbeats missed) it
 * starts consuming again after a pause.
 */
function startLoop(delivery: DeliveryContext, signal: AbortSignal): ConsumerLoop {
  const loop: ConsumerLoop = { messages: undefined, running: Promise.resolve() };
  const { definition } = delivery;
  const batchMax = definition.handleBatch ? (definition.batchMax ?? batchMaxDefault) : undefined;
  const batchLingerMs = definition.batchLingerMs ?? batchLingerDefaultMs;
  // A batch consumer prefetches a batch's worth, so that many can be waiting when it asks.
  const prefetch = Math.max(prefetchMessages, batchMax ?? 0);
  const run = async () => {
    while (!signal.aborted) {
      try {
        const consumer = await delivery.js.consumers.get(eventStream.name, delivery.durableName);
        loop.messages = await consumer.consume({ max_messages: prefetch });
        if (signal.aborted) await loop.messages.close();
        if (batchMax === undefined) await consumeEach(delivery, loop.messages, signal);
        else await consumeBatches(delivery, loop.messages, batchMax, batchLingerMs, signal);
      } catch (error) {
        if (!signal.aborted)
          delivery.logger.warn({ err: error, consumer: delivery.durableName }, 'consume failed');
      }
      if (!signal.aborted) await sleep(restartDelayMs, undefined, { signal }).catch(() => undefined);
    }
  };
  loop.running = run();
  return loop;
}

/**
 * Starts one durable pull consumer per definition on the EVENTS stream (`<service>_<name>`,
 * explicit acks, bounded deliveries). Each event is applied in a Postgres transaction that also
 * inserts (consumer, event id) into processed_events, and acked only after COMMIT: a
 * redelivery of an applied event is acked without running the handler. A failing handler is
 * retried with backoff; at `maxDeliveries` (or at once for an invalid event) the original
 * payload and headers go to `dlq.<service>.<name>` with the error, and
 * `events_dead_lettered_total{consumer}` counts it. Handler spans continue the producer's trace
 * from the message headers. A `handleBatch` consumer applies the events already waiting or arriving
 * within `batchLingerMs` of the first (up to `batchMax`) in one such transaction, with one span linking their producers' traces, and falls
 * back to one event per transaction when a batch fails. Both streams must exist
 * (ensureEventStream).
 */
export async function startConsumers(options: StartConsumersOptions): Promise<RunningConsumers> {
  const settings = checkOptions(options);
  const manager = await jetstreamManager(options.nc);
  await requireStreams(manager);
  const js = jetstream(options.nc);
  const metrics: ConsumerMetrics = consumerMetrics(
    options.registry,
    options.consumers.map((consumer) => consumer.name),
  );
  const deliveries: DeliveryContext[] = [];
  for (const definition of options.consumers) {
    const durableName = `${options.service}_${definition.name}`;
    await ensureConsumer(manager, consumerConfig(durableName, definition, settings));
    deliveries.push({
      definition,
      durableName,
      deadLetterSubject: `dlq.${options.service}.${definition.name}`,
      js,
      pool: options.pool,
      logger: options.logger,
      metrics,
      maxDeliveries: settings.maxDeliveries,
      backoffMs: settings.backoffMs,
      workingIntervalMs: Math.floor(settings.ackWaitMs / 2),
    });
  }
  const abort = new AbortController();
  const loops = deliveries.map((delivery) => startLoop(delivery, abort.signal));
  options.logger.info(
    { consumers: deliveries.map((delivery) => delivery.durableName) },
    'event consumers started',
  );
  return {
    async stop() {
      abort.abort();
      await Promise.all(loops.map((loop) => loop.messages?.close()));
      await Promise.all(loops.map((loop) => loop.running));
    },
  };
}
