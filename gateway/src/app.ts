import {
  createPrincipalSigner,
  decodeJson,
  gatewayIssuer,
  type NatsConnection,
  type PrincipalSigner,
  request,
} from '@zerostate/bus';
import { authEndpoints, authEvents } from '@zerostate/contracts';
import { histogram, type Logger, type Registry } from '@zerostate/observability';
import express, { type Express, Router } from 'express';
import type { Redis } from 'ioredis';
import { createApiKeyResolver } from './auth/api-keys.js';
import { identifyCaller, rejectRefusedCredentials } from './auth/identify.js';
import { createJwtVerifier } from './auth/jwt.js';
import { createLookupBudget } from './auth/lookup-budget.js';
import { createRevocationList } from './auth/revocations.js';
import type { GatewayConfig } from './config.js';
import {
  corsAllowlist,
  createLoginLimiter,
  createRateLimiter,
  errorHandler,
  httpMetrics,
  jsonBody,
  notFound,
  requestId,
  securityHeaders,
  serverSpan,
  tlsOnly,
} from './middleware/index.js';
import { inSequence } from './middleware/sequence.js';
import { createTaskWatchers, eventStreamHandler } from './routes/event-stream.js';
import { openApiDocument, type RouteGroup } from './routes/openapi.js';
import { opsRouter } from './routes/ops.js';
import { type RouteSpec, routeHandler } from './routes/route.js';
import { apiRoutes, jwksRoute } from './routes/table.js';

export interface GatewayDependencies {
  config: GatewayConfig;
  nc: NatsConnection;
  redis: Redis;
  logger: Logger;
  registry: Registry;
}

/**
 * The gateway's whole HTTP pipeline, in SPEC §5 order: request id → security headers → ops probes
 * → TLS-only → CORS → body limit → identify caller → rate limit → refuse bad credentials → route
 * (access check, validation, NATS call) → 404 → error mapper. It holds no business rules.
 */
export function createApp(dependencies: GatewayDependencies): Express {
  const { config, nc, redis, logger, registry } = dependencies;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.TRUSTED_PROXIES.length > 0 ? config.TRUSTED_PROXIES : false);
  app.set('query parser', 'simple');

  const latency = histogram(
    registry,
    'nats_request_duration_seconds',
    'NATS request latency seen by the gateway, by subject and outcome.',
    ['subject', 'outcome'],
  );
  const apiKeys = createApiKeyResolver({
    nc,
    ttlMs: config.API_KEY_CACHE_TTL_MS,
    registry,
    lookupBudget: createLookupBudget({
      capacity: config.API_KEY_LOOKUP_BURST,
      refillPerMinute: config.API_KEY_LOOKUP_REFILL_PER_MINUTE,
    }),
  });
  const revocations = createRevocationList({
    nc,
    registry,
    logger,
    pollIntervalMs: config.SESSION_REVOCATION_POLL_MS,
    onRevoked: (userId) => apiKeys.evictUser(userId),
  });
  // Loaded now so the first signed-in request does not wait; a failure retries on first use.
  revocations.ready().catch(() => undefined);
  const jwt = createJwtVerifier({
    fetchJwks: () => request(nc, authEndpoints.jwks, {}, { requestId: 'jwks-refresh' }, { latency }),
    issuer: config.JWT_ISSUER,
    audience: config.JWT_AUDIENCE,
    maxAgeMs: config.JWKS_MAX_AGE_MS,
    registry,
    revocations,
  });
  evictRevokedKeys(nc, (apiKeyId) => apiKeys.evict(apiKeyId), logger);
  const limiterOptions = { redis, keyPrefix: `${config.REDIS_KEY_PREFIX}rl`, registry };

  const loginLimiter = createLoginLimiter({
    ...limiterOptions,
    keyPrefix: `${config.REDIS_KEY_PREFIX}login`,
    perAccount: { points: config.LOGIN_LIMIT_PER_ACCOUNT_PER_MINUTE, durationSeconds: 60 },
    perIp: { points: config.LOGIN_LIMIT_PER_IP_PER_MINUTE, durationSeconds: 60 },
  });
  const groups: RouteGroup[] = [
    { prefix: '', specs: [jwksRoute] },
    { prefix: '/api/v1', specs: apiRoutes({ loginLimiter, apiKeys, revocations }) },
  ];

  // Each group runs as one Express layer (`inSequence`), in this order.
  app.use(
    inSequence([
      serverSpan(),
      requestId(),
      httpMetrics({ registry, logger }),
      securityHeaders({ hsts: config.TLS_ONLY }),
    ]),
  );
  // Probes and scrapes carry no credentials, so they are exempt from TLS-only (a kubelet probes
  // over plain HTTP when TLS ends at the ingress) and from rate limits (a limit must never make a
  // healthy pod look dead). Mounted on the app itself: no nested router to pass through.
  opsRouter({ nc, redis, registry, services: config.READY_SERVICES }, app);
  app.use(
    inSequence([tlsOnly({ enabled: config.TLS_ONLY }), corsAllowlist({ origins: config.CORS_ORIGINS })]),
  );
  // The routes that take a larger body than the default parse it first; the default parser then
  // sees a parsed body and leaves it.
  for (const group of groups) {
    for (const spec of group.specs) {
      if (spec.bodyLimitBytes) {
        app[spec.method](`${group.prefix}${spec.path}`, jsonBody({ limitBytes: spec.bodyLimitBytes }));
      }
    }
  }
  app.use(
    inSequence([
      jsonBody({ limitBytes: config.BODY_LIMIT_BYTES }),
      identifyCaller({ jwt, apiKeys }),
      createRateLimiter({
        ...limiterOptions,
        capacity: config.RATE_LIMIT_CAPACITY,
        refillPerMinute: config.RATE_LIMIT_REFILL_PER_MINUTE,
      }),
      rejectRefusedCredentials(),
    ]),
  );

  const document = openApiDocument(groups);
  app.get('/openapi.json', (_req, res) => {
    res.json(document);
  });
  // Every forwarded principal is signed with the gateway's key; services verify it.
  const signer = createPrincipalSigner({ issuer: gatewayIssuer, keys: config.BUS_SIGNING_KEYS });
  const streams = {
    nc,
    latency,
    signer,
    watchers: createTaskWatchers(nc, logger),
    heartbeatMs: config.TASK_EVENTS_HEARTBEAT_MS,
    logger,
  };
  // Routes without a prefix (the JWKS) go on the app itself; prefixed groups get their router.
  for (const group of groups) {
    if (group.prefix) app.use(group.prefix, routerOf(group.specs, nc, latency, signer, streams, Router()));
    else routerOf(group.specs, nc, latency, signer, streams, app);
  }

  app.use(notFound());
  app.use(errorHandler({ logger }));
  return app;
}

function routerOf<Target extends Router | Express>(
  specs: RouteSpec[],
  nc: NatsConnection,
  latency: ReturnType<typeof histogram>,
  signer: PrincipalSigner,
  streams: Parameters<typeof eventStreamHandler>[1],
  target: Target,
): Target {
  const router = target as Router;
  for (const spec of specs) {
    const handler = spec.eventStream
      ? eventStreamHandler(spec, streams)
      : routeHandler(spec, nc, latency, signer);
    router[spec.method](spec.path, ...(spec.before ?? []), handler);
  }
  return target;
}

/** Other gateway replicas learn of a revoked key from the auth service's event. */
function evictRevokedKeys(nc: NatsConnection, evict: (apiKeyId: string) => void, logger: Logger): void {
  nc.subscribe(authEvents.apiKeyRevoked.subject, {
    callback: (error, message) => {
      if (error) return;
      try {
        const envelope = decodeJson(message.data) as { data?: unknown };
        const parsed = authEvents.apiKeyRevoked.payload.safeParse(envelope.data);
        if (parsed.success) evict(parsed.data.api_key_id);
      } catch (caught) {
        logger.warn({ err: caught }, 'unreadable api-key revoked event');
      }
    },
  });
}
