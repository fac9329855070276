import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AckPolicy, type JsMsg, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { headers as createHeaders, type NatsConnection } from '@nats-io/nats-core';
import { connectBus, ensureEventStream, eventStream } from '@zerostate/bus';
import type { Logger, Registry } from '@zerostate/observability';
import { createTestDatabase, startNatsServer, type TestDatabase, type TestServer } from '@zerostate/testkit';
import pg from 'pg';
import { consumerMetrics, type DeliveryContext } from '../src/consumer-delivery.js';
import type { ConsumerDefinition } from '../src/index.js';

export const kitTablesPath = fileURLToPath(new URL('../sql/kit-tables.sql', import.meta.url));

/** What the test handlers write: one row per time a handler's transaction committed. */
const appliedTableSql = `
CREATE TABLE applied (
  event_id uuid NOT NULL,
  consumer text NOT NULL,
  value integer NOT NULL
);`;

export interface KitDatabase {
  url: string;
  pool: pg.Pool;
  close(): Promise<void>;
}

/**
 * A scratch database with the kit's tables (from sql/kit-tables.sql, the DDL every service's
 * migrations must match) and an `applied` table for test handlers.
 */
export async function kitDatabase(name: string): Promise<KitDatabase> {
  const migrationsDir = await mkdtemp(path.join(tmpdir(), 'zs-kit-migrations-'));
  let database: TestDatabase;
  try {
    const folder = path.join(migrationsDir, '20260101000000_kit');
    await mkdir(folder);
    await writeFile(
      path.join(folder, 'migration.sql'),
      `${await readFile(kitTablesPath, 'utf8')}\n${appliedTableSql}`,
    );
    database = await createTestDatabase({ name, migrationsDir });
  } finally {
    await rm(migrationsDir, { recursive: true, force: true });
  }
  const pool = new pg.Pool({ connectionString: database.url, max: 4 });
  // pool.end() resolves before its sockets close; the forced DROP DATABASE then terminates them,
  // and an 'error' event nobody listens to would fail the run as an unhandled error.
  pool.on('error', () => undefined);
  return {
    url: database.url,
    pool,
    async close() {
      await pool.end();
      await database.drop();
    },
  };
}

/**
 * Publishes an event the way the outbox relay does (envelope, `Nats-Msg-Id`), with a message id
 * of its own when given, so one envelope can be stored twice.
 */
export async function publishEvent(
  nc: NatsConnection,
  event: {
    subject: string;
    id?: string;
    data: unknown;
    messageId?: string;
    headers?: Record<string, string>;
  },
): Promise<string> {
  const id = event.id ?? randomUUID();
  const headers = createHeaders();
  for (const [key, value] of Object.entries(event.headers ?? {})) headers.set(key, value);
  const envelope = { id, type: event.subject, occurred_at: new Date().toISOString(), data: event.data };
  await jetstream(nc).publish(event.subject, JSON.stringify(envelope), {
    msgID: event.messageId ?? id,
    headers,
    timeout: 5_000,
  });
  return id;
}

export async function appliedRows(
  pool: pg.Pool,
  consumer: string,
): Promise<{ event_id: string; value: number }[]> {
  const { rows } = await pool.query<{ event_id: string; value: number }>(
    'SELECT event_id, value FROM applied WHERE consumer = $1 ORDER BY value',
    [consumer],
  );
  return rows;
}

/** A promise with its resolver outside, for holding a handler until the test lets it go. */
export function deferred<T = void>(): { promise: Promise<T>; resolve(value: T): void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((settle) => {
    resolve = settle;
  });
  return { promise, resolve };
}

/** A consumer name or subject token unique to one test: lowercase kebab, as the kit requires. */
export function uniqueToken(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** The first message stored under `subject` in `stream`, read with an ordered consumer. */
export async function firstStoredMessage(nc: NatsConnection, stream: string, subject: string) {
  const consumer = await jetstream(nc).consumers.get(stream, { filter_subjects: subject });
  const message = await consumer.next({ expires: 5_000 });
  await consumer.delete().catch(() => undefined);
  if (message === null) throw new Error(`no message on ${subject} in ${stream}`);
  return message;
}

/** What a consumer test runs on: its own nats-server with the event streams, and a kit database. */
export interface KitBus {
  server: TestServer;
  nc: NatsConnection;
  database: KitDatabase;
  stop(): Promise<void>;
}

export async function startKitBus(name: string): Promise<KitBus> {
  const server = await startNatsServer({ jetstream: true });
  const nc = await connectBus({ servers: server.url, name });
  await ensureEventStream(nc);
  const database = await kitDatabase(name);
  return {
    server,
    nc,
    database,
    stop: async () => {
      await nc.drain();
      await server.stop();
      await database.close();
    },
  };
}

/**
 * Creates the durable consumer `kittest_<name>` of `subject` and fetches `count` messages from it
 * at once: a batch exactly as the consume loop could gather it, for deliverBatch.
 */
export async function fetchMessages(
  nc: NatsConnection,
  name: string,
  subject: string,
  count: number,
): Promise<JsMsg[]> {
  const durable = `kittest_${name}`;
  const manager = await jetstreamManager(nc);
  await manager.consumers.add(eventStream.name, {
    durable_name: durable,
    filter_subject: subject,
    ack_policy: AckPolicy.Explicit,
  });
  const consumer = await jetstream(nc).consumers.get(eventStream.name, durable);
  const messages: JsMsg[] = [];
  for await (const message of await consumer.fetch({ max_messages: count, expires: 5_000 })) {
    messages.push(message);
  }
  if (messages.length !== count) throw new Error(`fetched ${messages.length} of ${count} messages`);
  return messages;
}

/** What startConsumers would give the consumer `kittest_<name>` to deliver with. */
export function deliveryContext(
  nc: NatsConnection,
  pool: pg.Pool,
  // biome-ignore lint/suspicious/noExplicitAny: each consumer has its own payload type.
  definition: ConsumerDefinition<any>,
  options: { logger: Logger; registry: Registry },
): DeliveryContext {
  return {
    definition,
    durableName: `kittest_${definition.name}`,
    deadLetterSubject: `dlq.kittest.${definition.name}`,
    js: jetstream(nc),
    pool,
    logger: options.logger,
    metrics: consumerMetrics(options.registry, [definition.name]),
    maxDeliveries: 5,
    backoffMs: [20],
    workingIntervalMs: 15_000,
  };
}
