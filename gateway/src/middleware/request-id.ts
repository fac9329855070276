import { randomUUID } from 'node:crypto';
import { type RequestContext, runWithRequestContext } from '@zerostate/observability';
import type { RequestHandler, Response } from 'express';

/**
 * Incoming ids are echoed into logs and responses, so only a short, log-safe alphabet is accepted;
 * anything else (empty, too long, control characters, spaces) is replaced by a fresh UUID.
 */
const acceptedRequestId = /^[A-Za-z0-9._:-]{1,128}$/;

export const requestIdHeader = 'X-Request-Id';

/**
 * Gives every request an id: the caller's `X-Request-Id` when it is well formed, else a UUID. The
 * id is stored in `res.locals.requestId`, echoed in the response header, and the rest of the
 * pipeline runs inside a request context so every log line carries it. The context object itself
 * is kept in `res.locals.requestContext` so later middleware (authentication) can add `userId`.
 */
export function requestId(): RequestHandler {
  return (request, response, next) => {
    const incoming = request.get(requestIdHeader);
    const id = incoming !== undefined && acceptedRequestId.test(incoming) ? incoming : randomUUID();
    const context: RequestContext = { requestId: id };
    response.locals.requestId = id;
    response.locals.requestContext = context;
    response.set(requestIdHeader, id);
    runWithRequestContext(context, () => next());
  };
}

/** The request id given by `requestId()`, or null when that middleware did not run. */
export function requestIdOf(response: Response): string | null {
  const id: unknown = response.locals.requestId;
  return typeof id === 'string' ? id : null;
}

/**
 * The authenticated user's id from `res.locals.principal` (set by the gateway's authentication),
 * or null for anonymous callers. Read defensively because `res.locals` is untyped.
 */
export function principalUserIdOf(response: Response): string | null {
  const principal: unknown = response.locals.principal;
  if (typeof principal !== 'object' || principal === null || !('user_id' in principal)) return null;
  return typeof principal.user_id === 'string' && principal.user_id !== '' ? principal.user_id : null;
}
