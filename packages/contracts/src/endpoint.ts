import type { ErrorCode } from '@zerostate/errors';
import type { z } from 'zod';

/**
 * One NATS request/reply endpoint: the subject, what it accepts, what it answers, which error
 * codes it may return, and how long a caller waits. Gateway and service both use this object,
 * so nobody writes a subject string by hand.
 */
export interface Endpoint<Request extends z.ZodType = z.ZodType, Response extends z.ZodType = z.ZodType> {
  readonly service: string;
  readonly name: string;
  readonly subject: string;
  readonly request: Request;
  readonly response: Response;
  readonly errors: readonly ErrorCode[];
  readonly timeoutMs: number;
  /**
   * The services (bus names) that may call this endpoint as themselves. A service principal
   * whose service is not listed is refused by the adapter with CALLER_NOT_ALLOWED; user and
   * API-key principals are not affected (the handler checks them).
   */
  readonly callers: readonly string[];
}

export type RequestOf<E extends Endpoint> = z.input<E['request']>;
export type ParsedRequestOf<E extends Endpoint> = z.output<E['request']>;
export type ResponseOf<E extends Endpoint> = z.input<E['response']>;

const kebab = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;

export function defineEndpoint<Request extends z.ZodType, Response extends z.ZodType>(definition: {
  service: string;
  name: string;
  request: Request;
  response: Response;
  errors: readonly ErrorCode[];
  timeoutMs: number;
  /** Services that may call as themselves; none unless listed. */
  callers?: readonly string[];
}): Endpoint<Request, Response> {
  for (const part of definition.name.split('.')) {
    if (!kebab.test(part)) throw new Error(`endpoint name must be lowercase kebab: ${definition.name}`);
  }
  if (!(definition.timeoutMs > 0 && definition.timeoutMs <= 30_000)) {
    throw new Error(`endpoint ${definition.name} needs a timeout between 1 ms and 30 s`);
  }
  return Object.freeze({
    ...definition,
    callers: Object.freeze([...(definition.callers ?? [])]),
    subject: `svc.${definition.service}.${definition.name}`,
  });
}

/** A domain event published on JetStream as `evt.<service>.<entity>.<past-tense>`. */
export interface EventContract<Payload extends z.ZodType = z.ZodType> {
  readonly subject: string;
  readonly payload: Payload;
}

export function defineEvent<Payload extends z.ZodType>(
  subject: `evt.${string}.${string}.${string}`,
  payload: Payload,
): EventContract<Payload> {
  return Object.freeze({ subject, payload });
}

/** The envelope every event travels in; `id` is also the JetStream `Nats-Msg-Id`. */
export interface EventEnvelope<T = unknown> {
  id: string;
  type: string;
  occurred_at: string;
  data: T;
}

/**
 * The NATS header that carries the request id, on requests and on events alike: an event
 * enqueued while handling a request carries that request's id to its consumers.
 */
export const requestIdHeaderName = 'zs-request-id';

/** A row of a service's outbox table: written in the same transaction as the state change. */
export interface OutboxRow {
  id: string;
  subject: string;
  payload: unknown;
  occurredAt: Date;
  /**
   * NATS headers the relay publishes with the event: the W3C trace context (`traceparent`,
   * `tracestate`) and the request id (`zs-request-id`) of the work that enqueued it.
   */
  headers: Readonly<Record<string, string>>;
}

/**
 * What the outbox relay (@zerostate/bus) needs from a service's database; @zerostate/database's
 * `pgOutboxStore` implements it.
 */
export interface OutboxStore {
  /**
   * Locks up to `limit` unpublished rows (skipping rows another replica holds), calls `publish`
   * for each in `occurred_at` order within the batch, marks them published and commits. Returns
   * how many were published. When a publish fails it rejects, leaving at least the failed rows
   * unpublished. There is no global order across replicas: consumers must not rely on one.
   */
  relayBatch(limit: number, publish: (row: OutboxRow) => Promise<void>): Promise<number>;
}
