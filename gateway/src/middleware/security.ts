import cors from 'cors';
import type { RequestHandler } from 'express';
import helmet from 'helmet';

const oneYearSeconds = 365 * 24 * 60 * 60;

export interface SecurityHeadersOptions {
  /** Send Strict-Transport-Security; only when the gateway is reached over HTTPS (production). */
  hsts: boolean;
}

/**
 * Helmet with every header spelled out rather than trusting defaults. This gateway serves JSON
 * only, so the content security policy forbids loading anything and being framed anywhere.
 *
 * With these options Helmet's headers are the same on every response, so Helmet runs once, at
 * start, against a recording response, and each request replays what it set and removed: the
 * same headers, without a dozen small middleware calls per request.
 */
export function securityHeaders(options: SecurityHeadersOptions): RequestHandler {
  const set: [string, string][] = [];
  const removed: string[] = [];
  const recorder = {
    setHeader: (name: string, value: string) => set.push([name, value]),
    removeHeader: (name: string) => removed.push(name),
  };
  let synchronous = false;
  helmetFor(options)({} as never, recorder as never, () => {
    synchronous = true;
  });
  if (!synchronous) throw new Error('helmet did not finish synchronously; its headers cannot be replayed');
  return (_request, response, next) => {
    for (const [name, value] of set) response.setHeader(name, value);
    for (const name of removed) response.removeHeader(name);
    next();
  };
}

function helmetFor(options: SecurityHeadersOptions): RequestHandler {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
    },
    crossOriginEmbedderPolicy: false,
    crossOriginOpenerPolicy: { policy: 'same-origin' },
    crossOriginResourcePolicy: { policy: 'same-origin' },
    originAgentCluster: true,
    referrerPolicy: { policy: 'no-referrer' },
    strictTransportSecurity: options.hsts ? { maxAge: oneYearSeconds, includeSubDomains: true } : false,
    xContentTypeOptions: true,
    xDnsPrefetchControl: { allow: false },
    xDownloadOptions: true,
    xFrameOptions: { action: 'deny' },
    xPermittedCrossDomainPolicies: { permittedPolicies: 'none' },
    xPoweredBy: true,
    xXssProtection: true,
  }) as RequestHandler;
}

export interface CorsAllowlistOptions {
  /** Exact origins (scheme://host[:port], no trailing slash) allowed to call the API from a browser. */
  origins: readonly string[];
}

export const corsAllowedMethods = ['GET', 'POST', 'PATCH', 'DELETE'];
export const corsAllowedHeaders = [
  'Authorization',
  'Content-Type',
  'X-API-Key',
  'Idempotency-Key',
  'X-Request-Id',
];
export const corsExposedHeaders = ['RateLimit', 'RateLimit-Policy', 'Retry-After', 'X-Request-Id'];

/**
 * CORS for an allowlist of origins. An allowed origin gets its own origin echoed back; any other
 * origin gets no CORS headers at all (no error: the browser then refuses to expose the response).
 * Credentials stay off because the API authenticates by header, never by cookie.
 */
export function corsAllowlist(options: CorsAllowlistOptions): RequestHandler {
  const allowed = new Set(options.origins);
  const corsMiddleware = cors({
    origin: (origin, callback) =>
      callback(null, origin !== undefined && allowed.has(origin) ? origin : false),
    credentials: false,
    methods: corsAllowedMethods,
    allowedHeaders: corsAllowedHeaders,
    exposedHeaders: corsExposedHeaders,
    maxAge: 600,
    preflightContinue: false,
    optionsSuccessStatus: 204,
  });
  return (request, response, next) => {
    // The answer depends on Origin even when it is refused, so shared caches must key on it.
    response.vary('Origin');
    corsMiddleware(request, response, next);
  };
}
