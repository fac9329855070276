import type { CallContext } from '@zerostate/bus';
import { hasRole, hasScope, type Principal, type Role, type Scope } from '@zerostate/contracts';
import { AppError, toAppError } from '@zerostate/errors';
import type { RequestContext } from '@zerostate/observability';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { ApiKeyResolver } from './api-keys.js';
import type { AccessTokenVerifier } from './jwt.js';

/** What the gateway knows about the caller, kept on `res.locals`. */
export interface CallerLocals {
  requestId: string;
  requestContext?: RequestContext;
  principal?: Principal;
  /** Credentials were presented but refused; thrown after rate limiting. */
  credentialError?: AppError;
}

export function callerOf(res: Response): CallerLocals {
  return res.locals as CallerLocals;
}

/** The context forwarded to services in NATS headers. */
export function callContextOf(req: Request, res: Response): CallContext {
  const caller = callerOf(res);
  return {
    requestId: caller.requestId,
    principal: caller.principal,
    clientIp: req.ip,
    userAgent: req.get('user-agent'),
  };
}

/**
 * Finds out who is calling, before rate limiting, so the limiter can key per user. A bad
 * credential is remembered, not thrown: the request is then limited per IP like an anonymous
 * one, and refused with 401 by `rejectRefusedCredentials` right after.
 */
export function identifyCaller(options: {
  jwt: AccessTokenVerifier;
  apiKeys: ApiKeyResolver;
}): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction) => {
    const caller = callerOf(res);
    const credential = credentialOf(req);
    if (!credential) return next();
    try {
      caller.principal =
        credential.kind === 'api_key'
          ? await options.apiKeys.resolve(credential.value, callContextOf(req, res))
          : await options.jwt.verify(credential.value);
      if (caller.requestContext) caller.requestContext.userId = caller.principal.user_id;
    } catch (error) {
      caller.credentialError = toAppError(error);
    }
    next();
  };
}

export function rejectRefusedCredentials(): RequestHandler {
  return (_req, res, next) => next(callerOf(res).credentialError);
}

function credentialOf(req: Request): { kind: 'jwt' | 'api_key'; value: string } | undefined {
  const apiKeyHeader = req.get('x-api-key');
  if (apiKeyHeader) return { kind: 'api_key', value: apiKeyHeader.trim() };
  const authorization = req.get('authorization');
  if (!authorization) return undefined;
  const [scheme, value] = authorization.split(' ', 2);
  if (scheme?.toLowerCase() !== 'bearer' || !value) return { kind: 'jwt', value: '' };
  return { kind: value.startsWith('zs_') ? 'api_key' : 'jwt', value: value.trim() };
}

/** Who may call a route. Ownership is the services' job; this is the coarse gate. */
export interface RouteAccess {
  auth: 'none' | 'optional' | 'required';
  /** Scope an API key needs; a signed-in user holds every scope. */
  scope?: Scope;
  /** Only a signed-in user (JWT), never an API key, e.g. managing keys or passwords. */
  sessionOnly?: boolean;
  role?: Role;
}

export function checkAccess(access: RouteAccess, principal: Principal | undefined): void {
  if (access.auth === 'none') return;
  if (!principal) {
    if (access.auth === 'required') throw new AppError('UNAUTHENTICATED');
    return;
  }
  if (access.sessionOnly && principal.kind !== 'user') throw new AppError('API_KEY_NOT_ALLOWED');
  if (access.scope && !hasScope(principal, access.scope)) {
    throw new AppError('INSUFFICIENT_SCOPE', undefined, { details: { required_scope: access.scope } });
  }
  if (access.role && !hasRole(principal, access.role)) throw new AppError('FORBIDDEN');
}
