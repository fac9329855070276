import { type NatsConnection, errors as natsErrors } from '@nats-io/nats-core';
import { type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Endpoint, RequestOf } from '@zerostate/contracts';
import { AppError } from '@zerostate/errors';
import { type Histogram, isTracing } from '@zerostate/observability';
import type { z } from 'zod';
import { decodeJson, encodeJson, type ReplyEnvelope } from './envelope.js';
import { type CallContext, encodeCallHeaders } from './headers.js';
import type { PrincipalSigner } from './principal-token.js';

const tracer = trace.getTracer('@zerostate/bus');

export interface RequestOptions {
  /** Overrides the contract's timeout; only ever shorter (for example /ready probes). */
  timeoutMs?: number;
  /** Observes `nats_request_duration_seconds{subject,outcome}` when given. */
  latency?: Histogram<string>;
  /** Signs the call's principal; a call that carries a principal must have one. */
  signer?: PrincipalSigner;
  /**
   * Parse the reply against the contract's response (default). The gateway's HTTP routes turn it
   * off: the service's adapter already parsed its answer against the same contract before sending
   * it (undeclared fields stripped, a wrong shape answered as INTERNAL), so a second parse on the
   * way out protected nothing and cost a schema walk per request. Callers that use the reply's
   * values (services calling services, the gateway's own JWKS and revocation reads) keep it.
   */
  validateReply?: boolean;
}

/**
 * Sends one request through a contract and returns the validated response. No responders
 * becomes SERVICE_UNAVAILABLE (503) at once; no answer in time becomes UPSTREAM_TIMEOUT (504);
 * an error reply is rethrown as the same AppError the service raised.
 */
export async function request<E extends Endpoint>(
  nc: NatsConnection,
  endpoint: E,
  input: RequestOf<E>,
  call: CallContext,
  options: RequestOptions = {},
): Promise<z.output<E['response']>> {
  const timeoutMs = Math.min(options.timeoutMs ?? endpoint.timeoutMs, endpoint.timeoutMs);
  // Without a recording tracer a span would be a no-op object and its context switch pure cost.
  if (!isTracing()) return send(nc, endpoint, input, call, options, timeoutMs, undefined);
  return tracer.startActiveSpan(
    `nats request ${endpoint.subject}`,
    {
      kind: SpanKind.CLIENT,
      attributes: { 'messaging.system': 'nats', 'messaging.destination.name': endpoint.subject },
    },
    (span) => send(nc, endpoint, input, call, options, timeoutMs, span),
  );
}

async function send<E extends Endpoint>(
  nc: NatsConnection,
  endpoint: E,
  input: RequestOf<E>,
  call: CallContext,
  options: RequestOptions,
  timeoutMs: number,
  span: Span | undefined,
): Promise<z.output<E['response']>> {
  const started = performance.now();
  let outcome = 'ok';
  try {
    const body = encodeJson(input);
    let token: string | undefined;
    if (call.principal) {
      if (!options.signer) throw new Error(`a call to ${endpoint.subject} with a principal needs a signer`);
      token = options.signer.sign(call.principal, {
        subject: endpoint.subject,
        requestId: call.requestId,
        body,
      });
    }
    const reply = await nc
      .request(endpoint.subject, body, {
        timeout: timeoutMs,
        headers: encodeCallHeaders(call, token),
      })
      .catch((error: unknown) => {
        throw transportError(endpoint, error);
      });
    const envelope = decodeJson(reply.data) as ReplyEnvelope;
    if (!envelope.ok) throw AppError.fromBody(envelope.error);
    if (options.validateReply === false) return envelope.data as z.output<E['response']>;
    const parsed = endpoint.response.safeParse(envelope.data);
    if (!parsed.success) {
      throw new AppError('INTERNAL', undefined, {
        cause: new Error(`bad reply from ${endpoint.subject}`),
      });
    }
    return parsed.data as z.output<E['response']>;
  } catch (error) {
    outcome = error instanceof AppError ? error.code : 'INTERNAL';
    span?.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
    throw error;
  } finally {
    options.latency?.observe({ subject: endpoint.subject, outcome }, (performance.now() - started) / 1000);
    span?.end();
  }
}

function transportError(endpoint: Endpoint, error: unknown): AppError {
  const cause = error instanceof natsErrors.RequestError && error.cause ? error.cause : error;
  if (
    cause instanceof natsErrors.NoRespondersError ||
    (error instanceof natsErrors.RequestError && error.isNoResponders())
  ) {
    return new AppError('SERVICE_UNAVAILABLE', `The ${endpoint.service} service is unavailable.`, {
      cause: error,
    });
  }
  if (cause instanceof natsErrors.TimeoutError) {
    return new AppError('UPSTREAM_TIMEOUT', `The ${endpoint.service} service did not answer in time.`, {
      cause: error,
    });
  }
  return new AppError('SERVICE_UNAVAILABLE', `The ${endpoint.service} service is unreachable.`, {
    cause: error,
  });
}
