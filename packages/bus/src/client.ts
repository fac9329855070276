import { type NatsConnection, errors as natsErrors } from '@nats-io/nats-core';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Endpoint, RequestOf } from '@zerostate/contracts';
import { AppError } from '@zerostate/errors';
import type { Histogram } from '@zerostate/observability';
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
  return tracer.startActiveSpan(
    `nats request ${endpoint.subject}`,
    {
      kind: SpanKind.CLIENT,
      attributes: { 'messaging.system': 'nats', 'messaging.destination.name': endpoint.subject },
    },
    async (span) => {
      const started = performance.now();
      let outcome = 'ok';
      try {
        const body = encodeJson(input);
        let token: string | undefined;
        if (call.principal) {
          if (!options.signer)
            throw new Error(`a call to ${endpoint.subject} with a principal needs a signer`);
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
        const parsed = endpoint.response.safeParse(envelope.data);
        if (!parsed.success) {
          throw new AppError('INTERNAL', undefined, {
            cause: new Error(`bad reply from ${endpoint.subject}`),
          });
        }
        return parsed.data as z.output<E['response']>;
      } catch (error) {
        outcome = error instanceof AppError ? error.code : 'INTERNAL';
        span.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
        throw error;
      } finally {
        options.latency?.observe(
          { subject: endpoint.subject, outcome },
          (performance.now() - started) / 1000,
        );
        span.end();
      }
    },
  );
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
