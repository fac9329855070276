import { headers as createHeaders, type MsgHdrs } from '@nats-io/nats-core';
import { type Principal, principalSchema, requestIdHeaderName } from '@zerostate/contracts';
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

export function encodeCallHeaders(call: CallContext): MsgHdrs {
  const headers = createHeaders();
  headers.set(headerNames.requestId, call.requestId);
  if (call.principal) headers.set(headerNames.principal, JSON.stringify(call.principal));
  if (call.clientIp) headers.set(headerNames.clientIp, call.clientIp);
  if (call.userAgent) headers.set(headerNames.userAgent, call.userAgent.slice(0, 512));
  if (call.idempotencyKey) headers.set(headerNames.idempotencyKey, call.idempotencyKey);
  injectTraceContext(carrierOf(headers));
  return headers;
}

/**
 * Reads the call context back. A principal header that does not parse is dropped rather than
 * trusted, so a handler then sees an anonymous caller.
 */
export function decodeCallHeaders(headers: MsgHdrs | undefined, fallbackRequestId: string): CallContext {
  const requestId = headers?.get(headerNames.requestId) || fallbackRequestId;
  const principalText = headers?.get(headerNames.principal);
  let principal: Principal | undefined;
  if (principalText) {
    try {
      const parsed = principalSchema.safeParse(JSON.parse(principalText));
      principal = parsed.success ? parsed.data : undefined;
    } catch {
      principal = undefined;
    }
  }
  return {
    requestId: requestId.slice(0, 128),
    principal,
    clientIp: headers?.get(headerNames.clientIp) || undefined,
    userAgent: headers?.get(headerNames.userAgent) || undefined,
    idempotencyKey: headers?.get(headerNames.idempotencyKey) || undefined,
  };
}
