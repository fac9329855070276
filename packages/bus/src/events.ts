import { type JetStreamClient, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import type { EventEnvelope, OutboxRow, OutboxStore } from '@zerostate/contracts';
import { counter, type Logger, type Registry } from '@zerostate/observability';
import { encodeJson } from './envelope.js';

export const eventStream = { name: 'EVENTS', subjects: ['evt.>'] } as const;

/** Creates the events stream if missing. JetStream drops a repeated `Nats-Msg-Id` in the window. */
export async function ensureEventStream(nc: NatsConnection, duplicateWindowMs = 120_000): Promise<void> {
  const manager = await jetstreamManager(nc);
  const nanos = (ms: number) => ms * 1_000_000;
  try {
    await manager.streams.info(eventStream.name);
  } catch {
    await manager.streams.add({
      name: eventStream.name,
      subjects: [...eventStream.subjects],
      duplicate_window: nanos(duplicateWindowMs),
      max_age: nanos(7 * 24 * 3_600_000),
    });
  }
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
  wake(): void;
}

function pausable(): Pause {
  let wakeCurrent: (() => void) | undefined;
  return {
    wait: (ms) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          wakeCurrent = undefined;
          resolve();
        }, ms);
        wakeCurrent = () => {
          clearTimeout(timer);
          wakeCurrent = undefined;
          resolve();
        };
      }),
    wake: () => wakeCurrent?.(),
  };
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
  const batchSize = options.batchSize ?? 100;
  const metrics = relayMetrics(options.registry);
  const pause = pausable();
  let stopped = false;
  let consecutiveFailures = 0;
  const publish = async (row: OutboxRow) => {
    const envelope: EventEnvelope = {
      id: row.id,
      type: row.subject,
      occurred_at: row.occurredAt.toISOString(),
      data: row.payload,
    };
    await js.publish(row.subject, encodeJson(envelope), { msgID: row.id, timeout: 2_000 });
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
      const pauseMs = await relayOnce();
      if (pauseMs > 0 && !stopped) await pause.wait(pauseMs);
    }
  };
  const running = loop();
  return {
    kick: () => {
      if (consecutiveFailures === 0) pause.wake();
    },
    stop: async () => {
      stopped = true;
      pause.wake();
      await running;
    },
  };
}
