import { trace } from '@opentelemetry/api';
import { counter, gauge, histogram, isTracing, type Logger, type Registry } from '@zerostate/observability';
import type { Request, RequestHandler } from 'express';
import { principalUserIdOf, requestIdOf } from './request-id.js';

export interface HttpMetricsOptions {
  registry: Registry;
  /** Receives one JSON access-log line per finished (or aborted) request. */
  logger: Logger;
}

/** The route label of a request that matched no route: never the raw URL (unbounded cardinality). */
export const unmatchedRoute = 'unmatched';

/**
 * Records the matched route pattern with its mount path. Express sets `req.route` when a route
 * matches, but by the time the response finishes `req.baseUrl` may have been restored to an outer
 * router's (an error bubbling out of a sub-router), so the full pattern is captured at the moment
 * Express assigns `req.route`, while `req.baseUrl` is still the mount path of that route.
 */
function captureMatchedRoute(request: Request, onMatch?: (route: string) => void): () => string {
  let matched: string = unmatchedRoute;
  let route: unknown = request.route;
  Object.defineProperty(request, 'route', {
    configurable: true,
    enumerable: true,
    get: () => route,
    set: (value: unknown) => {
      route = value;
      const path = typeof value === 'object' && value !== null && 'path' in value ? value.path : undefined;
      matched = path === undefined ? unmatchedRoute : `${request.baseUrl}${String(path)}`;
      if (path !== undefined) onMatch?.(matched);
    },
  });
  return () => matched;
}

/**
 * HTTP RED metrics and the access log. `http_requests_total` and
 * `http_request_duration_seconds` are labelled {method, route, status}; `route` is the Express
 * route pattern (for example `/api/v1/tasks/:id`) or `unmatched`. `http_requests_in_flight`
 * counts requests still being handled.
 */
export function httpMetrics(options: HttpMetricsOptions): RequestHandler {
  const labels = ['method', 'route', 'status'];
  const requests = counter(options.registry, 'http_requests_total', 'HTTP requests handled.', labels);
  const durations = histogram(
    options.registry,
    'http_request_duration_seconds',
    'Time from receiving a request to finishing its response.',
    labels,
  );
  const inFlight = gauge(options.registry, 'http_requests_in_flight', 'HTTP requests being handled now.');
  return (request, response, next) => {
    const startedNs = process.hrtime.bigint();
    // The HTTP server span (when tracing) is named by its route pattern once a route matches
    // (before the response ends the span), never by the raw URL.
    const span = isTracing() ? trace.getActiveSpan() : undefined;
    const matchedRoute = captureMatchedRoute(
      request,
      span &&
        ((route) => {
          span.setAttribute('http.route', route);
          span.updateName(`${request.method} ${route}`);
        }),
    );
    inFlight.inc();
    let recorded = false;
    const record = () => {
      if (recorded) return;
      recorded = true;
      inFlight.dec();
      const durationSeconds = Number(process.hrtime.bigint() - startedNs) / 1e9;
      // A connection closed before the response finished is logged as 499 (client closed request).
      const status = response.writableFinished ? response.statusCode : 499;
      const values = { method: request.method, route: matchedRoute(), status: String(status) };
      requests.inc(values);
      durations.observe(values, durationSeconds);

      options.logger.info(
        {
          request_id: requestIdOf(response),
          method: values.method,
          route: values.route,
          status,
          duration_ms: Math.round(durationSeconds * 1e6) / 1e3,
          user_id: principalUserIdOf(response),
        },
        'request completed',
      );
    };
    response.once('finish', record);
    response.once('close', record);
    next();
  };
}
