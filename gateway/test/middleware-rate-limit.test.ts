import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import type { Server } from 'node:http';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Counter, createLogger, Registry } from '@zerostate/observability';
import express, { type RequestHandler } from 'express';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createLoginLimiter,
  createRateLimiter,
  enforceRateLimits,
  errorHandler,
  jsonBody,
  notFound,
  requestId,
} from '../src/middleware/index.js';

type ErrorBody = { error: { code: string; details?: Record<string, unknown> } };

const runPrefix = `test:gateway-rate-limit:${randomUUID()}`;
const servers: Server[] = [];
const clients: Redis[] = [];
let sharedRedis: Redis;

/** Options the gateway uses for its limiter client: fail at once instead of queueing. */
function limiterClient(port: number): Redis {
  const client = new Redis({ host: '127.0.0.1', port, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  client.on('error', () => {});
  clients.push(client);
  return client;
}

async function readyClient(port: number): Promise<Redis> {
  const client = limiterClient(port);
  if (client.status !== 'ready') await once(client, 'ready');
  return client;
}

/** Resolves once redis-server logs that it accepts connections; its output keeps being drained. */
function serverReady(redisServer: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = '';
    redisServer.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (output.includes('Ready to accept connections')) resolve();
    });
    redisServer.once('exit', () => reject(new Error(`redis-server exited before it was ready: ${output}`)));
  });
}

async function freePort(): Promise<number> {
  const probe = createNetServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** Stands in for the gateway's authentication: `x-test-user` becomes the principal. */
const identifyFromTestHeader: RequestHandler = (request, response, next) => {
  const userId = request.get('x-test-user');
  if (userId) response.locals.principal = { user_id: userId };
  next();
};

async function serve(limiters: RequestHandler[], route: 'get' | 'login' = 'get'): Promise<string> {
  const app = express();
  app.set('trust proxy', 'loopback');
  app.use(requestId());
  app.use(jsonBody({ limitBytes: 1024 }));
  app.use(identifyFromTestHeader);
  if (route === 'get') {
    app.use(...limiters);
    app.get('/thing', (_request, response) => {
      response.json({ ok: true });
    });
  } else {
    app.post('/auth/login', ...limiters, (_request, response) => {
      response.json({ ok: true });
    });
  }
  app.use(notFound());
  app.use(errorHandler({ logger: createLogger({ service: 'test', level: 'silent' }) }));
  const server = app.listen(0, '127.0.0.1');
  servers.push(server);
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

interface Hit {
  status: number;
  rateLimit: string | null;
  policy: string | null;
  retryAfter: string | null;
  body: ErrorBody;
}

async function hit(
  baseUrl: string,
  caller: { user?: string; ip?: string; email?: string } = {},
): Promise<Hit> {
  const headers: Record<string, string> = {};
  if (caller.user) headers['x-test-user'] = caller.user;
  if (caller.ip) headers['x-forwarded-for'] = caller.ip;
  const login = caller.email !== undefined;
  if (login) headers['content-type'] = 'application/json';
  const response = await fetch(`${baseUrl}${login ? '/auth/login' : '/thing'}`, {
    method: login ? 'POST' : 'GET',
    headers,
    body: login ? JSON.stringify({ email: caller.email, password: 'irrelevant' }) : undefined,
  });
  return {
    status: response.status,
    rateLimit: response.headers.get('ratelimit'),
    policy: response.headers.get('ratelimit-policy'),
    retryAfter: response.headers.get('retry-after'),
    body: (await response.json()) as ErrorBody,
  };
}

/** Sends `count` requests at once, so the bucket barely refills while they arrive. */
function burst(baseUrl: string, count: number, caller: Parameters<typeof hit>[1]): Promise<Hit[]> {
  return Promise.all(Array.from({ length: count }, () => hit(baseUrl, caller)));
}

async function sampleValue(registry: Registry, name: string, labels: Record<string, string>) {
  const metric = (await registry.getMetricsAsJSON()).find((entry) => entry.name === name);
  const values = (metric?.values ?? []) as { labels: Record<string, string | number>; value: number }[];
  return values.find((value) => Object.entries(labels).every(([key, wanted]) => value.labels[key] === wanted))
    ?.value;
}

function defaultLimiter(redis: Redis, keyPrefix: string, registry = new Registry()): RequestHandler {
  return createRateLimiter({ redis, keyPrefix, capacity: 20, refillPerMinute: 100, registry });
}

beforeAll(async () => {
  sharedRedis = await readyClient(6379);
});

afterAll(async () => {
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  const keys = await sharedRedis.keys(`${runPrefix}*`);
  if (keys.length > 0) await sharedRedis.del(...keys);
  for (const client of clients) client.disconnect();
});

describe('createRateLimiter with Redis up', () => {
  const keyPrefix = `${runPrefix}:up`;
  const registry = new Registry();
  let baseUrl = '';

  beforeAll(async () => {
    baseUrl = await serve([defaultLimiter(sharedRedis, keyPrefix, registry)]);
  });

  it('when one user sends 21 immediate requests, then the 21st is 429 with headers and another user is unaffected', async () => {
    const first = await burst(baseUrl, 20, { user: 'alice' });
    expect(first.map((response) => response.status)).toEqual(Array(20).fill(200));
    const remaining = first.map((response) => Number(/;r=(\d+);/.exec(response.rateLimit ?? '')?.[1]));
    expect(remaining.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, index) => index));
    expect(first[0]?.policy).toBe('"default";q=100;w=60;burst=20');

    const refused = await hit(baseUrl, { user: 'alice' });
    expect(refused.status).toBe(429);
    expect(refused.retryAfter).toBe('1');
    expect(refused.rateLimit).toBe('"default";r=0;t=1');
    expect(refused.policy).toBe('"default";q=100;w=60;burst=20');
    expect(refused.body.error).toMatchObject({ code: 'RATE_LIMITED', details: { retry_after_seconds: 1 } });

    const other = await hit(baseUrl, { user: 'bob' });
    expect(other.status).toBe(200);
    expect(other.rateLimit).toMatch(/^"default";r=19;t=\d+$/);
  });

  it('when requests were allowed and refused, then the limiter metrics count them', async () => {
    expect(await sampleValue(registry, 'rate_limit_requests_allowed_total', { limiter: 'default' })).toBe(21);
    expect(await sampleValue(registry, 'rate_limit_requests_rejected_total', { limiter: 'default' })).toBe(1);
    expect(await sampleValue(registry, 'rate_limit_buckets_active', { limiter: 'default' })).toBe(2);
  });

  it('when a bucket is used, then Redis holds it as a token bucket expiring when full again', async () => {
    const key = `${keyPrefix}:default:user:bob`;
    expect(Number(await sharedRedis.hget(key, 'tokens'))).toBeLessThan(20);
    const expiresInMs = await sharedRedis.pttl(key);
    expect(expiresInMs).toBeGreaterThan(0);
    expect(expiresInMs).toBeLessThanOrEqual(12_000);
  });

  it('when a refused caller waits for a token to refill, then it is allowed again', async () => {
    const drained = await burst(baseUrl, 21, { user: 'carol' });
    // A 429 here proves the bucket was empty when the wait starts.
    expect(drained.filter((response) => response.status === 429).length).toBeGreaterThanOrEqual(1);
    // One token returns every 0.6 s; this wait is functional (it lets a token come back).
    await sleep(1_300);
    expect((await hit(baseUrl, { user: 'carol' })).status).toBe(200);
  });

  it('when anonymous callers come from different addresses, then each has its own bucket', async () => {
    const exhausted = await burst(baseUrl, 21, { ip: '203.0.113.5' });
    expect(exhausted.filter((response) => response.status === 429)).toHaveLength(1);
    expect((await hit(baseUrl, { ip: '203.0.113.6' })).status).toBe(200);
    expect(await sharedRedis.exists(`${keyPrefix}:default:ip:203.0.113.6`)).toBe(1);
  });
});

describe('createRateLimiter with Redis down', () => {
  it('when Redis was never reachable, then the insurance limiter still refuses the 21st and nothing is 5xx', async () => {
    const deadRedis = limiterClient(await freePort());
    const baseUrl = await serve([defaultLimiter(deadRedis, `${runPrefix}:dead`)]);
    const responses = await burst(baseUrl, 20, { user: 'dave' });
    expect(responses.map((response) => response.status)).toEqual(Array(20).fill(200));
    const refused = await hit(baseUrl, { user: 'dave' });
    expect(refused.status).toBe(429);
    expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(refused.rateLimit).toMatch(/^"default";r=0;t=\d+$/);
    expect(refused.policy).toBe('"default";q=100;w=60;burst=20');
  });

  it('when the Redis server dies mid-test, then limiting continues in memory and nothing is 5xx', async () => {
    const port = await freePort();
    const redisServer: ChildProcess = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    try {
      await serverReady(redisServer);
      const redis = await readyClient(port);
      const baseUrl = await serve([defaultLimiter(redis, `${runPrefix}:killed`)]);
      expect((await burst(baseUrl, 3, { user: 'erin' })).map((response) => response.status)).toEqual([
        200, 200, 200,
      ]);
      expect(await redis.exists(`${runPrefix}:killed:default:user:erin`)).toBe(1);

      // Not events.once: it would reject on the 'error' event ioredis may emit first.
      const closed = new Promise((resolve) => redis.once('close', resolve));
      redisServer.kill('SIGKILL');
      await Promise.all([once(redisServer, 'exit'), closed]);

      const afterOutage = await burst(baseUrl, 20, { user: 'erin' });
      expect(afterOutage.map((response) => response.status)).toEqual(Array(20).fill(200));
      const refused = await hit(baseUrl, { user: 'erin' });
      expect(refused.status).toBe(429);
      expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(1);
    } finally {
      if (redisServer.exitCode === null && redisServer.signalCode === null) redisServer.kill('SIGKILL');
    }
  });
});

describe('enforceRateLimits when every store fails', () => {
  it('when neither Redis nor the insurance answers, then the request is refused (fail closed) with 503', async () => {
    const registry = new Registry();
    let reachedRoute = false;
    const metrics = {
      allowed: new Counter({
        name: 'allowed',
        help: 'allowed',
        labelNames: ['limiter'],
        registers: [registry],
      }),
      rejected: new Counter({
        name: 'rejected',
        help: 'rejected',
        labelNames: ['limiter'],
        registers: [registry],
      }),
    };
    const check = {
      policy: { name: 'default', quota: 100, windowSeconds: 60, burst: 20 },
      key: 'ip:192.0.2.1',
      consume: () => Promise.reject(new Error('store and insurance both failed')),
    };
    const brokenLimiter: RequestHandler = async (_request, response, next) => {
      next(await enforceRateLimits([check], response, metrics, 'default'));
    };
    const app = express();
    app.use(brokenLimiter);
    app.get('/thing', (_request, response) => {
      reachedRoute = true;
      response.json({ ok: true });
    });
    app.use(errorHandler({ logger: createLogger({ service: 'test', level: 'silent' }) }));
    const server = app.listen(0, '127.0.0.1');
    servers.push(server);
    await once(server, 'listening');
    const response = await hit(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    expect(response.status).toBe(503);
    expect(response.retryAfter).toBe('1');
    expect(response.body.error.code).toBe('SERVICE_UNAVAILABLE');
    expect(reachedRoute).toBe(false);
  });
});

describe('createLoginLimiter', () => {
  const registry = new Registry();
  let baseUrl = '';

  beforeAll(async () => {
    const loginLimiter = createLoginLimiter({
      redis: sharedRedis,
      keyPrefix: `${runPrefix}:login`,
      perAccount: { points: 5, durationSeconds: 60 },
      perIp: { points: 20, durationSeconds: 60 },
      registry,
    });
    baseUrl = await serve([loginLimiter], 'login');
  });

  it('when one account is tried a 6th time, then 429 whatever the email casing, while another account passes', async () => {
    const ip = '198.51.100.1';
    const emails = [
      'alice@example.com',
      'Alice@Example.com',
      'ALICE@EXAMPLE.COM',
      ' alice@example.com',
      'alice@example.COM',
    ];
    for (const email of emails) expect((await hit(baseUrl, { ip, email })).status).toBe(200);
    const refused = await hit(baseUrl, { ip, email: 'alice@example.com' });
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('RATE_LIMITED');
    expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(refused.rateLimit).toMatch(/^"login_account";r=0;t=\d+, "login_ip";r=\d+;t=\d+$/);
    expect(refused.policy).toBe('"login_account";q=5;w=60, "login_ip";q=20;w=60');
    expect((await hit(baseUrl, { ip, email: 'bob@example.com' })).status).toBe(200);
  });

  it('when one address tries 21 different accounts, then the 21st is refused by the per-address limit', async () => {
    const ip = '198.51.100.2';
    for (let attempt = 0; attempt < 20; attempt += 1) {
      expect((await hit(baseUrl, { ip, email: `user${attempt}@example.com` })).status).toBe(200);
    }
    const refused = await hit(baseUrl, { ip, email: 'fresh@example.com' });
    expect(refused.status).toBe(429);
    expect(refused.rateLimit).toMatch(/"login_ip";r=0;t=\d+$/);
    expect((await hit(baseUrl, { ip: '198.51.100.3', email: 'fresh@example.com' })).status).toBe(200);
  });

  it('when the body has no email, then only the per-address policy applies', async () => {
    const response = await fetch(`${baseUrl}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': '198.51.100.9' },
      body: JSON.stringify({ password: 'x' }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('ratelimit-policy')).toBe('"login_ip";q=20;w=60');
  });

  it('when login attempts were refused, then the rejection is counted per limit', async () => {
    expect(
      await sampleValue(registry, 'rate_limit_requests_rejected_total', { limiter: 'login_account' }),
    ).toBe(1);
    expect(await sampleValue(registry, 'rate_limit_requests_rejected_total', { limiter: 'login_ip' })).toBe(
      1,
    );
  });

  it('when keys are stored, then no email appears in Redis in clear text', async () => {
    const keys = await sharedRedis.keys(`${runPrefix}:login*`);
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.join('\n')).not.toContain('example.com');
  });
});
