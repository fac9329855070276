import assert from 'node:assert/strict';
import {
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import { headers as createHeaders, type MsgHdrs, type NatsConnection } from '@nats-io/nats-core';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { EventEnvelope, OutboxRow, OutboxStore } from '@zerostate/contracts';
import {
  counter,
  extractTraceContext,
  injectTraceContext,
  type Logger,
  type Registry,
} from '@zerostate/observability';
import { encodeJson } from './envelope.js';
import { carrierOf } from './headers.js';

export const eventStream = { name: 'EVENTS', subjects: ['evt.>'] } as const;

/** Where consumers put events they gave up on: `dlq.<service>.<consumer>`. */
export const deadLetterStream = { name: 'DEAD_LETTERS', subjects: ['dlq.>'] } as const;

export interface EventStreamOptions {
  /**
   * Copies of each stream across a NATS cluster (1, 3 or 5; default 1). More than 1 needs a
   * clustered server; services read it from `EVENT_STREAM_REPLICAS`.
   */
  replicas?: number;
  /** How long JetStream remembers a `Nats-Msg-Id` to drop a repeat (default 2 minutes). */
  duplicateWindowMs?: number;
}

const dayMs = 24 * 3_600_000;
const eventRetentionMs = 7 * dayMs;
/** Dead letters wait for a person: longer than a holiday weekend plus the time to fix a bug. */
const deadLetterRetentionMs = 30 * dayMs;
const duplicateWindowDefaultMs = 120_000;
const nanos = (ms: number) => ms * 1_000_000;

interface StreamSettings {
  name: string;
  subjects: string[];
  replicas: number;
  duplicateWindowMs: number;
  maxAgeMs: number;
}

/** Names the configuration variable, since that is what an operator has to change. */
function replicasError(settings: StreamSettings, cause?: unknown): Error {
  const reason = cause instanceof Error ? `: ${cause.message}` : '';
  return new Error(
    `EVENT_STREAM_REPLICAS=${settings.replicas} asks for ${settings.replicas} replicas of stream ` +
      `${settings.name}, but the NATS server is not clustered (or has too few peers)${reason}. ` +
      'Set EVENT_STREAM_REPLICAS=1 on a single server.',
    { cause },
  );
}

async function streamConfigOrUndefined(manager: JetStreamManager, name: string) {
  try {
    return (await manager.streams.info(name)).config;
  } catch (error) {
    if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound)
      return undefined;
    throw error;
  }
}

/** Creates the stream, or updates the settings this code owns where the live stream differs. */
async function ensureStream(manager: JetStreamManager, settings: StreamSettings): Promise<void> {
  const wanted = {
    num_replicas: settings.replicas,
    duplicate_window: nanos(settings.duplicateWindowMs),
  };
  try {
    const live = await streamConfigOrUndefined(manager, settings.name);
    if (live === undefined) {
      await manager.streams.add({
        name: settings.name,
        subjects: settings.subjects,
        max_age: nanos(settings.maxAgeMs),
        ...wanted,
      });
    } else if (
      live.num_replicas !== wanted.num_replicas ||
      live.duplicate_window !== wanted.duplicate_window
    ) {
      await manager.streams.update(settings.name, wanted);
    }
  } catch (error) {
    if (settings.replicas > 1 && error instanceof JetStreamApiError) throw replicasError(settings, error);
    throw error;
  }
}

/**
 * Creates the events stream (`evt.>`) and the dead-letter stream (`dlq.>`) when missing, and
 * updates an existing one whose replicas or duplicate window differ from what is asked.
 * JetStream drops a repeated `Nats-Msg-Id` within the duplicate window. Asking for more than one
 * replica from a server that is not clustered fails before anything changes, naming
 * `EVENT_STREAM_REPLICAS`.
 */
export async function ensureEventStream(nc: NatsConnection, options: EventStreamOptions = {}): Promise<void> {
  const replicas = options.replicas ?? 1;
  const duplicateWindowMs = options.duplicateWindowMs ?? duplicateWindowDefaultMs;
  assert(Number.isSafeInteger(replicas) && replicas >= 1 && replicas <= 5, 'replicas must be 1 to 5');
  assert(
    Number.isSafeInteger(duplicateWindowMs) && duplicateWindowMs > 0 && duplicateWindowMs <= eventRetentionMs,
    'duplicateWindowMs must be a positive whole number no longer than the retention',
  );
  const events: StreamSettings = {
    name: eventStream.name,
    subjects: [...eventStream.subjects],
    replicas,
    duplicateWindowMs,
    maxAgeMs: eventRetentionMs,
  };
  // A server outside a cluster reports no cluster name; refuse before touching either stream.
  if (replicas > 1 && !nc.info?.cluster) throw replicasError(events);
  const manager = await jetstreamManager(nc);
  await ensureStream(manager, events);
  await ensureStream(manager, {
    name: deadLetterStream.name,
    subjects: [...deadLetterStream.subjects],
    replicas,
    duplicateWindowMs,
    maxAgeMs: deadLetterRetentionMs,
  });
}

export interface OutboxRelay {
  /** Asks the relay to look now instead of at the next poll (call after a commit). */
  kick(): void;
  stop(): Promise<void>;
}

export interface OutboxRelayOptions {
  nc: NatsConnection;
  store: OutboxStore;
  logger: Logger;
  /** Pause between looks at an empty outbox, and the first retry delay after a failure. */
  pollIntervalMs?: number;
  /**
   * How long a `kick()` waits for more commits before the relay looks (default 5 ms): under load
   * one batch then carries the rows of many commits (one claim, one mark, publishes written
   * together) instead of one batch per commit; idle, an event leaves at most this much later.
   */
  kickDelayMs?: number;
  batchSize?: number;
  /** When given, counts `outbox_relay_failures_total` and `outbox_events_published_total`. */
  registry?: Registry;
}

/** The longest pause between retries while publishing keeps failing. */
const retryDelayCapMs = 30_000;

/**
 * The pause before retrying after `consecutiveFailures` failed batches: the poll interval doubled
 * per failure up to 30 s, then jittered to between half and all of that, so replicas that failed
 * together spread apart while each replica's pauses still grow.
 */
export function outboxRetryDelayMs(
  consecutiveFailures: number,
  pollIntervalMs: number,
  random: () => number = Math.random,
): number {
  const doublings = Math.min(Math.max(consecutiveFailures - 1, 0), 30);
  const ceiling = Math.min(Math.max(retryDelayCapMs, pollIntervalMs), pollIntervalMs * 2 ** doublings);
  // Rounding down keeps each delay below its ceiling, so it stays below the next delay's floor.
  return Math.floor(ceiling * (0.5 + random() * 0.5));
}

interface Pause {
  /** Resolves after `ms`, or earlier when woken. */
  wait(ms: number): Promise<void>;
  /** Ends the current wait within `ms` (at once for 0); no effect when not waiting. */
  wakeWithin(ms: number): void;
}

function pausable(): Pause {
  let current: { resolve: () => void; timer: NodeJS.Timeout; deadline: number } | undefined;
  const end = () => {
    if (!current) return;
    clearTimeout(current.timer);
    const { resolve } = current;
    current = undefined;
    resolve();
  };
  return {
    wait: (ms) =>
      new Promise<void>((resolve) => {
        current = { resolve, timer: setTimeout(end, ms), deadline: performance.now() + ms };
      }),
    wakeWithin: (ms) => {
      if (!current) return;
      if (ms <= 0) return end();
      if (current.deadline - performance.now() <= ms) return;
      clearTimeout(current.timer);
      current.timer = setTimeout(end, ms);
      current.deadline = performance.now() + ms;
    },
  };
}

const tracer = trace.getTracer('@zerostate/bus');

/** Header names the relay never copies from a row: JetStream's own (`Nats-Msg-Id`, …). */
const reservedHeaderPrefix = 'nats-';

/** The row's stored headers as NATS headers, skipping anything that is not a plain string. */
function headersOfRow(row: OutboxRow): MsgHdrs {
  const headers = createHeaders();
  for (const [key, value] of Object.entries(row.headers)) {
    if (typeof value === 'string' && !key.toLowerCase().startsWith(reservedHeaderPrefix)) {
      headers.set(key, value);
    }
  }
  return headers;
}

/**
 * Publishes inside a producer span that continues the trace the row was enqueued in, so the
 * consumer's span (a child of this one) lands in the producer's trace. The headers carry the
 * request id as stored and the trace context of the publish span.
 */
async function publishInTraceOf(row: OutboxRow, send: (headers: MsgHdrs) => Promise<void>): Promise<void> {
  const headers = headersOfRow(row);
  const enqueuedIn = extractTraceContext(carrierOf(headers));
  await context.with(enqueuedIn, () =>
    tracer.startActiveSpan(
      `publish ${row.subject}`,
      {
        kind: SpanKind.PRODUCER,
        attributes: {
          'messaging.system': 'nats',
          'messaging.destination.name': row.subject,
          'messaging.message.id': row.id,
        },
      },
      async (span) => {
        try {
          injectTraceContext(carrierOf(headers));
          await send(headers);
        } catch (error) {
          span.setStatus({ code: SpanStatusCode.ERROR, message: String(error) });
          throw error;
        } finally {
          span.end();
        }
      },
    ),
  );
}

function relayMetrics(registry: Registry | undefined) {
  if (registry === undefined) return undefined;
  return {
    failures: counter(registry, 'outbox_relay_failures_total', 'Outbox relay batches that failed.'),
    published: counter(registry, 'outbox_events_published_total', 'Outbox events published to JetStream.'),
  };
}

/**
 * Publishes outbox rows to JetStream with `Nats-Msg-Id` = event id, so a row published twice
 * (crash between publish and mark) is stored once. Safe with several replicas: each batch is
 * claimed with SKIP LOCKED. After failures it backs off (see `outboxRetryDelayMs`) and ignores
 * `kick()` until a batch succeeds again, so a NATS or database outage is not hammered on every
 * commit.
 */
export function startOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  const js: JetStreamClient = jetstream(options.nc);
  const pollIntervalMs = options.pollIntervalMs ?? 500;
  const kickDelayMs = options.kickDelayMs ?? 5;
  const batchSize = options.batchSize ?? 100;
  const metrics = relayMetrics(options.registry);
  const pause = pausable();
  let stopped = false;
  let consecutiveFailures = 0;
  /** A kick arrived while a batch ran: its rows may have missed that batch's claim. */
  let kickedDuringBatch = false;
  let relaying = false;
  const publish = async (row: OutboxRow) => {
    const envelope: EventEnvelope = {
      id: row.id,
      type: row.subject,
      occurred_at: row.occurredAt.toISOString(),
      data: row.payload,
    };
    await publishInTraceOf(row, async (headers) => {
      await js.publish(row.subject, encodeJson(envelope), { msgID: row.id, headers, timeout: 2_000 });
    });
  };
  /** One batch; returns how long to pause before the next (0: a full batch, look again at once). */
  const relayOnce = async (): Promise<number> => {
    try {
      const published = await options.store.relayBatch(batchSize, publish);
      consecutiveFailures = 0;
      metrics?.published.inc(published);
      return published === batchSize ? 0 : pollIntervalMs;
    } catch (error) {
      consecutiveFailures += 1;
      metrics?.failures.inc();
      const retryInMs = outboxRetryDelayMs(consecutiveFailures, pollIntervalMs);
      options.logger.warn(
        { err: error, consecutive_failures: consecutiveFailures, retry_in_ms: retryInMs },
        'outbox relay batch failed; will retry',
      );
      return retryInMs;
    }
  };
  const loop = async () => {
    while (!stopped) {
      kickedDuringBatch = false;
      relaying = true;
      let pauseMs = await relayOnce();
      relaying = false;
      if (kickedDuringBatch && consecutiveFailures === 0) pauseMs = Math.min(pauseMs, kickDelayMs);
      if (pauseMs > 0 && !stopped) await pause.wait(pauseMs);
    }
  };
  const running = loop();
  return {
    kick: () => {
      if (consecutiveFailures > 0) return;
      if (relaying) kickedDuringBatch = true;
      else pause.wakeWithin(kickDelayMs);
    },
    stop: async () => {
      stopped = true;
      pause.wakeWithin(0);
      await running;
    },
  };
}
