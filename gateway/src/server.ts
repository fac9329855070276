import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { connectBus, type NatsConnection } from '@zerostate/bus';
import { createLogger, createRegistry, type Logger } from '@zerostate/observability';
import { Redis } from 'ioredis';
import { createApp } from './app.js';
import type { GatewayConfig } from './config.js';

export interface Gateway {
  start(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Wires the gateway's connections and its HTTP(S) server. Redis commands fail at once while Redis
 * is down (no offline queue), so the in-memory insurance limiter takes over instead of requests
 * hanging.
 */
export async function createGateway(
  config: GatewayConfig,
  options: { logger?: Logger } = {},
): Promise<Gateway> {
  const logger = options.logger ?? createLogger({ service: 'gateway', level: config.LOG_LEVEL });
  const registry = createRegistry('gateway');
  const nc: NatsConnection = await connectBus({
    servers: config.NATS_URL,
    name: 'gateway',
    user: config.NATS_USER,
    pass: config.NATS_PASSWORD,
  });
  const redis = new Redis(config.REDIS_URL, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 1_000,
    // A Redis that drops packets instead of refusing them must not hold requests: after this the
    // command fails and the in-memory insurance limiter answers.
    commandTimeout: 500,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  });
  redis.on('error', (error) => logger.debug({ err: error }, 'redis error'));
  const app = createApp({ config, nc, redis, logger, registry });
  const tls = config.TLS_CERT_FILE && config.TLS_KEY_FILE;
  const server = tls
    ? https.createServer(
        { cert: readFileSync(config.TLS_CERT_FILE!), key: readFileSync(config.TLS_KEY_FILE!) },
        app,
      )
    : http.createServer(app);
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 5_000;

  return {
    start: () =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.GATEWAY_PORT, config.GATEWAY_HOST, () => {
          const port = (server.address() as AddressInfo).port;
          logger.info({ port, tls: Boolean(tls), tls_only: config.TLS_ONLY }, 'gateway listening');
          resolve(port);
        });
      }),
    stop: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 5_000).unref();
      });
      await nc.drain().catch(() => undefined);
      redis.disconnect();
      logger.flush();
    },
  };
}
