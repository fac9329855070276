import { Empty, errors as natsErrors } from '@nats-io/nats-core';
import type { NatsConnection } from '@zerostate/bus';
import type { Registry } from '@zerostate/observability';
import { type Router as ExpressRouter, Router } from 'express';
import type { Redis } from 'ioredis';

const probeTimeoutMs = 500;

/**
 * `/health`: the process is up. `/ready`: NATS is connected, Redis answers, and every service
 * answers its NATS micro-service PING; otherwise 503 with the reason per check.
 */
export function opsRouter<Target extends Pick<ExpressRouter, 'get'>>(
  options: {
    nc: NatsConnection;
    redis: Redis;
    registry: Registry;
    services: string[];
  },
  /** Where the routes go: a new router, or the app itself (no nested router per request). */
  router: Target = Router() as unknown as Target,
): Target {
  router.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/ready', async (_req, res) => {
    const checks: Record<string, string> = {
      nats: options.nc.isClosed() ? 'closed' : 'ok',
      redis: await probeRedis(options.redis),
    };
    const pings = await Promise.all(options.services.map((name) => pingService(options.nc, name)));
    options.services.forEach((name, index) => {
      checks[`service:${name}`] = pings[index]!;
    });
    const ready = Object.values(checks).every((value) => value === 'ok');
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not_ready', checks });
  });
  router.get('/metrics', async (_req, res) => {
    res.set('content-type', options.registry.contentType).send(await options.registry.metrics());
  });
  return router;
}

async function probeRedis(redis: Redis): Promise<string> {
  try {
    await withTimeout(redis.ping(), probeTimeoutMs);
    return 'ok';
  } catch {
    return 'unreachable';
  }
}

async function pingService(nc: NatsConnection, name: string): Promise<string> {
  if (nc.isClosed()) return 'unreachable: NATS is closed';
  try {
    await nc.request(`$SRV.PING.${name}`, Empty, { timeout: probeTimeoutMs });
    return 'ok';
  } catch (error) {
    if (error instanceof natsErrors.RequestError && error.isNoResponders())
      return 'unavailable: no responders';
    if (error instanceof natsErrors.NoRespondersError) return 'unavailable: no responders';
    return 'unavailable: no answer in time';
  }
}

function withTimeout<T>(work: Promise<T>, timeoutMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timeout')), timeoutMs);
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
