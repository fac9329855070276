import { headers as createHeaders, type MsgHdrs } from '@nats-io/nats-core';
import { type Principal, requestIdHeaderName } from '@zerostate/contracts';
import { type HeaderCarrier, injectTraceContext } from '@zerostate/observability';

/** Header names carried on every request; W3C `traceparent`/`tracestate` travel beside them. */
export const headerNames = {
  requestId: requestIdHeaderName,
  principal: 'zs-principal',
  clientIp: 'zs-client-ip',
  userAgent: 'zs-user-agent',
  idempotencyKey: 'zs-idempotency-key',
} as const;

/** An Idempotency-Key: 1 to 255 visible ASCII characters (Stripe's and the IETF draft's limits). */
export const idempotencyKeyPattern = /^[\x21-\x7e]{1,255}$/;

/** What a caller passes along with a request, and what a handler receives. */
export interface CallContext {
  requestId: string;
  principal?: Principal | undefined;
  clientIp?: string | undefined;
  userAgent?: string | undefined;
  /** The client's Idempotency-Key, forwarded only on routes that honour it. */
  idempotencyKey?: string | undefined;
}

export function carrierOf(headers: MsgHdrs): HeaderCarrier {
  return {
    get: (key) => headers.get(key),
    set: (key, value) => headers.set(key, value),
    keys: () => headers.keys(),
  };
}

/** The headers of one request; `principalToken` is the signed principal (see principal-token.ts). */
export function encodeCallHeaders(call: CallContext, principalToken?: string): MsgHdrs {
  const headers = createHeaders();
  headers.set(headerNames.requestId, call.requestId);
  if (principalToken) headers.set(headerNames.principal, principalToken);
  if (call.clientIp) headers.set(headerNames.clientIp, call.clientIp);
  if (call.userAgent) headers.set(headerNames.userAgent, call.userAgent.slice(0, 512));
  if (call.idempotencyKey) headers.set(headerNames.idempotencyKey, call.idempotencyKey);
  injectTraceContext(carrierOf(headers));
  return headers;
}

/**
 * Reads the call context back, without the principal: its header is returned as it came
 * (`principalToken`) for the adapter to verify, and only a verified principal reaches a handler.
 */
export function decodeCallHeaders(
  headers: MsgHdrs | undefined,
  fallbackRequestId: string,
): Omit<CallContext, 'principal'> & { principalToken?: string | undefined } {
  const requestId = headers?.get(headerNames.requestId) || fallbackRequestId;
  return {
    requestId: requestId.slice(0, 128),
    principalToken: headers?.get(headerNames.principal) || undefined,
    clientIp: headers?.get(headerNames.clientIp) || undefined,
    userAgent: headers?.get(headerNames.userAgent) || undefined,
    idempotencyKey: headers?.get(headerNames.idempotencyKey) || undefined,
  };
}
