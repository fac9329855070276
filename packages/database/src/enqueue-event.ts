import { type EventContract, requestIdHeaderName } from '@zerostate/contracts';
import { currentRequestContext, type HeaderCarrier, injectTraceContext } from '@zerostate/observability';
import type pg from 'pg';
import type { z } from 'zod';
import { uuidV7 } from './ids.js';
import type { RawSqlClient } from './transactions.js';

/**
 * Where an event can be enqueued: a Prisma interactive-transaction client, or a `pg` client
 * inside an open transaction (what an event consumer's handler gets).
 */
export type OutboxWriter = RawSqlClient | pg.ClientBase;

/** A header carrier over a plain record, so the propagator can write into what becomes jsonb. */
function recordCarrier(record: Record<string, string>): HeaderCarrier {
  return {
    get: (key) => record[key] ?? '',
    set: (key, value) => {
      record[key] = value;
    },
    keys: () => Object.keys(record),
  };
}

/**
 * The headers an event enqueued right now should travel with: the active W3C trace context and
 * the request id of the request (or event) being handled. Empty outside both.
 */
function eventHeadersOfActiveContext(): Record<string, string> {
  const headers: Record<string, string> = {};
  injectTraceContext(recordCarrier(headers));
  const requestId = currentRequestContext()?.requestId;
  if (requestId) headers[requestIdHeaderName] = requestId;
  return headers;
}

function isPrismaClient(writer: OutboxWriter): writer is RawSqlClient {
  return typeof (writer as Partial<RawSqlClient>).$executeRaw === 'function';
}

/** An outbox row ready to insert: its id, subject, payload checked against the contract, headers. */
export interface OutboxInsert {
  id: string;
  subject: string;
  payloadJson: string;
  headersJson: string;
}

/**
 * The row `enqueueEvent` inserts, for a statement that writes its outbox row itself (one
 * round trip for the change and its event). The payload is checked against the contract here.
 */
export function outboxInsertOf<Payload extends z.ZodType>(
  event: EventContract<Payload>,
  payload: z.input<Payload>,
): OutboxInsert {
  return {
    id: uuidV7(),
    subject: event.subject,
    payloadJson: JSON.stringify(event.payload.parse(payload)),
    headersJson: JSON.stringify(eventHeadersOfActiveContext()),
  };
}

/**
 * Records an event in the same transaction as the change it describes; the outbox relay
 * publishes it after commit with the trace context and request id captured here, so consumers
 * continue the producer's trace. The payload is checked against the contract, so a malformed
 * event fails the change instead of reaching consumers. Returns the event id (a UUIDv7, also the
 * JetStream `Nats-Msg-Id`).
 */
export async function enqueueEvent<Payload extends z.ZodType>(
  transaction: OutboxWriter,
  event: EventContract<Payload>,
  payload: z.input<Payload>,
): Promise<string> {
  const { id, subject, payloadJson, headersJson } = outboxInsertOf(event, payload);
  if (isPrismaClient(transaction)) {
    await transaction.$executeRaw`
      INSERT INTO outbox (id, subject, payload, headers)
      VALUES (${id}::uuid, ${subject}, ${payloadJson}::jsonb, ${headersJson}::jsonb)`;
  } else {
    await transaction.query(
      'INSERT INTO outbox (id, subject, payload, headers) VALUES ($1::uuid, $2, $3::jsonb, $4::jsonb)',
      [id, subject, payloadJson, headersJson],
    );
  }
  return id;
}
