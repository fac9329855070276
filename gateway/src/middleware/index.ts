export { appErrorFromBodyParser, type JsonBodyOptions, jsonBody } from './body.js';
export { type ErrorHandlerOptions, errorHandler, notFound, toHttpAppError } from './error-handler.js';
export { type HttpMetricsOptions, httpMetrics, unmatchedRoute } from './http-metrics.js';
export {
  callerKey,
  clientAddressKey,
  createLoginLimiter,
  createRateLimiter,
  enforceRateLimits,
  type LoginLimiterOptions,
  type LoginLimitSettings,
  type RateLimitCheck,
  type RateLimitCounters,
  type RateLimiterOptions,
  type RateLimitPolicy,
  tokenBucketLuaScript,
} from './rate-limit.js';
export { principalUserIdOf, requestId, requestIdHeader, requestIdOf } from './request-id.js';
export {
  type CorsAllowlistOptions,
  corsAllowedHeaders,
  corsAllowedMethods,
  corsAllowlist,
  corsExposedHeaders,
  type SecurityHeadersOptions,
  securityHeaders,
} from './security.js';
export { serverSpan } from './server-span.js';
export { type TlsOnlyOptions, tlsOnly } from './tls.js';
