import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import { trace } from '@opentelemetry/api';
import { AppError } from '@zerostate/errors';
import { type Counter, counter, Gauge, isTracing, type Registry } from '@zerostate/observability';
import type { Request, RequestHandler, Response } from 'express';
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { principalUserIdOf } from './request-id.js';

/**
 * A true token bucket for rate-limiter-flexible's `customIncrTtlLuaScript` hook. RLF passes
 * ARGV = [points to take, duration in s, limiter points, limiter duration in s]; here the limiter
 * points are the bucket capacity and the limiter duration is the time to refill an empty bucket,
 * so tokens flow back continuously at capacity/duration per second. Redis TIME is the only clock
 * (replicas and gateway clocks never disagree). The script answers {consumed, msBeforeNext} as RLF
 * expects: consumed = capacity - whole tokens left (so RLF's remaining points are the tokens
 * left), and on refusal capacity + 1, which makes RLF reject, with the wait until a token exists.
 * A refused request takes nothing. The key expires exactly when the bucket would be full again, so
 * idle callers cost no memory. Every limiter in this file uses this same script on purpose: RLF
 * registers it on the shared ioredis client under one command name (`rlflxIncr`), so a limiter
 * with a different script on the same client would silently replace it.
 */
export const tokenBucketLuaScript = `
local requested = tonumber(ARGV[1])
local capacity = tonumber(ARGV[3])
local msPerToken = tonumber(ARGV[4]) * 1000 / capacity
local now = redis.call('TIME')
local nowMs = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local stored = redis.call('HMGET', KEYS[1], 'tokens', 'updated_ms')
local tokens = tonumber(stored[1])
local updatedMs = tonumber(stored[2])
if tokens == nil or updatedMs == nil then
  tokens = capacity
else
  tokens = math.min(capacity, tokens + math.max(0, nowMs - updatedMs) / msPerToken)
end
if tokens < requested then
  return {capacity + 1, math.ceil((requested - tokens) * msPerToken)}
end
tokens = tokens - requested
local msUntilFull = math.ceil((capacity - tokens) * msPerToken)
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'updated_ms', tostring(nowMs))
redis.call('PEXPIRE', KEYS[1], math.max(1, msUntilFull))
return {capacity - math.floor(tokens), msUntilFull}
`;

/** One named limit as advertised in the `RateLimit-Policy` header. */
export interface RateLimitPolicy {
  name: string;
  /** Requests allowed per window (for a token bucket: the refill per window). */
  quota: number;
  windowSeconds: number;
  /** Token bucket capacity, when it differs from the quota. */
  burst?: number;
}

/** One check to pass: a policy, the caller's key under it, and how to take one unit. */
export interface RateLimitCheck {
  policy: RateLimitPolicy;
  key: string;
  consume: (key: string) => Promise<RateLimiterRes>;
}

type CheckOutcome =
  | { kind: 'allowed' | 'rejected'; check: RateLimitCheck; result: RateLimiterRes }
  | { kind: 'failed'; check: RateLimitCheck; error: unknown };

/** The counters `enforceRateLimits` updates, labelled by limiter (rejections: by policy name). */
export interface RateLimitCounters {
  allowed: Counter<string>;
  rejected: Counter<string>;
}

interface LimiterMetrics extends RateLimitCounters {
  activeKeys: ActiveKeyTracker;
}

const activeWindowMs = 60_000;
/** Caps the memory of the active-bucket gauge; beyond it the oldest keys are forgotten early. */
const activeKeysMax = 50_000;

/** Remembers which keys were seen in the last minute, oldest first, with a hard size cap. */
class ActiveKeyTracker {
  private readonly lastSeenByKey = new Map<string, number>();

  record(key: string, nowMs: number): void {
    this.lastSeenByKey.delete(key);
    this.lastSeenByKey.set(key, nowMs);
    if (this.lastSeenByKey.size > activeKeysMax) {
      const oldest = this.lastSeenByKey.keys().next().value;
      if (oldest !== undefined) this.lastSeenByKey.delete(oldest);
    }
  }

  count(nowMs: number): number {
    for (const [key, lastSeenMs] of this.lastSeenByKey) {
      if (lastSeenMs >= nowMs - activeWindowMs) break;
      this.lastSeenByKey.delete(key);
    }
    return this.lastSeenByKey.size;
  }
}

/** Trackers per registry, read by the gauge at scrape time so an idle gateway reports zero. */
const trackersByRegistry = new WeakMap<Registry, Map<string, ActiveKeyTracker>>();

function registerActiveKeyTracker(registry: Registry, limiter: string): ActiveKeyTracker {
  let trackers = trackersByRegistry.get(registry);
  if (trackers === undefined) {
    const trackersOfRegistry = new Map<string, ActiveKeyTracker>();
    trackers = trackersOfRegistry;
    trackersByRegistry.set(registry, trackersOfRegistry);
    new Gauge({
      name: 'rate_limit_buckets_active',
      help: 'Distinct rate-limit keys seen in the last minute (bounded in memory).',
      labelNames: ['limiter'],
      registers: [registry],
      collect() {
        for (const [name, tracker] of trackersOfRegistry)
          this.set({ limiter: name }, tracker.count(Date.now()));
      },
    });
  }
  const tracker = new ActiveKeyTracker();
  trackers.set(limiter, tracker);
  return tracker;
}

function limiterMetrics(registry: Registry, limiter: string): LimiterMetrics {
  return {
    allowed: counter(registry, 'rate_limit_requests_allowed_total', 'Requests a rate limiter let through.', [
      'limiter',
    ]),
    rejected: counter(registry, 'rate_limit_requests_rejected_total', 'Requests refused with 429.', [
      'limiter',
    ]),
    activeKeys: registerActiveKeyTracker(registry, limiter),
  };
}

/**
 * Groups IPv6 callers by their /64 (one subscriber usually owns a whole /64, so per-address
 * limits would be trivial to dodge) and unwraps IPv4-mapped IPv6 addresses.
 */
export function clientAddressKey(address: string | undefined): string {
  if (address === undefined || address === '') return 'ip:unknown';
  const unmapped = address.toLowerCase().startsWith('::ffff:') ? address.slice(7) : address;
  if (isIPv4(unmapped)) return `ip:${unmapped}`;
  const withoutZone = address.split('%')[0] ?? address;
  if (!isIPv6(withoutZone)) return `ip:${address}`;
  const [head = '', tail] = withoutZone.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const tailLength = tailGroups.reduce((total, group) => total + (group.includes('.') ? 2 : 1), 0);
  const groups = [
    ...headGroups,
    ...Array<string>(8 - headGroups.length - tailLength).fill('0'),
    ...tailGroups,
  ];
  const prefix = groups.slice(0, 4).map((group) => Number.parseInt(group, 16).toString(16));
  return `ip:${prefix.join(':')}::/64`;
}

/** `user:<id>` for an authenticated caller, else the client address key. */
export function callerKey(request: Request, response: Response): string {
  const userId = principalUserIdOf(response);
  return userId === null ? clientAddressKey(request.ip) : `user:${userId}`;
}

function secondsCeiling(milliseconds: number): number {
  return Math.max(0, Math.ceil(milliseconds / 1000));
}

function policyField(policy: RateLimitPolicy): string {
  const burst = policy.burst === undefined ? '' : `;burst=${policy.burst}`;
  return `"${policy.name}";q=${policy.quota};w=${policy.windowSeconds}${burst}`;
}

async function runCheck(check: RateLimitCheck): Promise<CheckOutcome> {
  try {
    return { kind: 'allowed', check, result: await check.consume(check.key) };
  } catch (rejection) {
    if (rejection instanceof RateLimiterRes) return { kind: 'rejected', check, result: rejection };
    return { kind: 'failed', check, error: rejection };
  }
}

/** The server-span attribute that holds how long a limiter's checks took, in ms (`default`, `login`). */
export const rateLimitMsAttribute = (limiter: string) => `zerostate.rate_limit.${limiter}.ms`;

/**
 * Runs every check, writes `RateLimit-Policy` and `RateLimit` (appending, so limiters stack), and
 * returns the error to pass on, if any. A check that neither allowed nor refused (the store and
 * its in-memory insurance both failed) fails closed: no request passes unlimited.
 */
export async function enforceRateLimits(
  checks: readonly RateLimitCheck[],
  response: Response,
  metrics: RateLimitCounters,
  limiter: string,
): Promise<AppError | undefined> {
  const startedMs = isTracing() ? performance.now() : undefined;
  const outcomes = await Promise.all(checks.map(runCheck));
  // The gateway has no Redis spans (main.ts); each limiter's round trip is an attribute of the
  // request's server span instead.
  if (startedMs !== undefined)
    trace
      .getActiveSpan()
      ?.setAttribute(
        rateLimitMsAttribute(limiter),
        Math.round((performance.now() - startedMs) * 1000) / 1000,
      );
  response.append('RateLimit-Policy', checks.map((check) => policyField(check.policy)).join(', '));
  const answered = outcomes.filter((outcome) => outcome.kind !== 'failed');
  if (answered.length > 0) {
    const fields = answered.map(
      ({ check, result }) =>
        `"${check.policy.name}";r=${result.remainingPoints};t=${secondsCeiling(result.msBeforeNext)}`,
    );
    response.append('RateLimit', fields.join(', '));
  }
  const failed = outcomes.find((outcome) => outcome.kind === 'failed');
  if (failed !== undefined) {
    return new AppError('SERVICE_UNAVAILABLE', undefined, {
      details: { retry_after_seconds: 1 },
      cause: failed.error,
    });
  }
  const rejected = answered.filter((outcome) => outcome.kind === 'rejected');
  if (rejected.length === 0) {
    metrics.allowed.inc({ limiter });
    return undefined;
  }
  for (const outcome of rejected) metrics.rejected.inc({ limiter: outcome.check.policy.name });
  const waitMs = Math.max(...rejected.map((outcome) => outcome.result.msBeforeNext));
  return new AppError('RATE_LIMITED', undefined, {
    details: { retry_after_seconds: Math.max(1, secondsCeiling(waitMs)) },
  });
}

interface BucketSettings {
  redis: Redis;
  keyPrefix: string;
  capacity: number;
  refillSeconds: number;
}

/**
 * A Redis token bucket with an in-memory insurance limiter of the same shape (a fixed window of
 * `capacity` per refill time). With `rejectIfRedisNotReady` and a client that has no offline
 * queue, a Redis outage switches to the insurance at once instead of waiting on timeouts.
 */
function tokenBucketLimiter(settings: BucketSettings): RateLimiterRedis {
  assert(
    Number.isInteger(settings.capacity) && settings.capacity >= 1,
    'capacity must be a positive integer',
  );
  assert(settings.refillSeconds > 0, 'refill time must be positive');
  return new RateLimiterRedis({
    storeClient: settings.redis,
    keyPrefix: settings.keyPrefix,
    points: settings.capacity,
    duration: settings.refillSeconds,
    blockDuration: 0,
    execEvenly: false,
    rejectIfRedisNotReady: true,
    customIncrTtlLuaScript: tokenBucketLuaScript,
    insuranceLimiter: new RateLimiterMemory({
      keyPrefix: settings.keyPrefix,
      points: settings.capacity,
      duration: settings.refillSeconds,
    }),
  });
}

export interface RateLimiterOptions {
  /** ioredis client with `enableOfflineQueue: false` and `maxRetriesPerRequest: 1`. */
  redis: Redis;
  keyPrefix: string;
  /** Bucket size: how many requests may arrive at once. */
  capacity: number;
  /** Continuous refill rate, in requests per minute. */
  refillPerMinute: number;
  registry: Registry;
}

/**
 * The general limiter: one token bucket per caller (`user:<id>` when authenticated, else
 * `ip:<address>`). Headers on every response:
 * `RateLimit-Policy: "default";q=<refillPerMinute>;w=60;burst=<capacity>` and
 * `RateLimit: "default";r=<tokens left>;t=<seconds until the bucket is full>` (on refusal,
 * `t` is the seconds until the next token). A refusal is RATE_LIMITED with retry_after_seconds.
 */
export function createRateLimiter(options: RateLimiterOptions): RequestHandler {
  assert(options.refillPerMinute > 0, 'refillPerMinute must be positive');
  const limiter = tokenBucketLimiter({
    redis: options.redis,
    keyPrefix: `${options.keyPrefix}:default`,
    capacity: options.capacity,
    refillSeconds: (options.capacity * 60) / options.refillPerMinute,
  });
  const policy: RateLimitPolicy = {
    name: 'default',
    quota: options.refillPerMinute,
    windowSeconds: 60,
    burst: options.capacity,
  };
  const metrics = limiterMetrics(options.registry, 'default');
  const consume = (key: string) => limiter.consume(key);
  return async (request, response, next) => {
    const key = callerKey(request, response);
    metrics.activeKeys.record(key, Date.now());
    const error = await enforceRateLimits([{ policy, key, consume }], response, metrics, 'default');
    next(error);
  };
}

export interface LoginLimitSettings {
  points: number;
  durationSeconds: number;
}

export interface LoginLimiterOptions {
  redis: Redis;
  keyPrefix: string;
  perAccount: LoginLimitSettings;
  perIp: LoginLimitSettings;
  registry: Registry;
}

/** Login keys hold no email in clear: Redis needs only to tell accounts apart. */
function accountKey(email: string): string {
  return `account:${createHash('sha256').update(email.trim().toLowerCase()).digest('hex')}`;
}

function loginLimitCheck(name: string, settings: LoginLimitSettings, limiter: RateLimiterRedis) {
  const policy: RateLimitPolicy = { name, quota: settings.points, windowSeconds: settings.durationSeconds };
  return (key: string): RateLimitCheck => ({ policy, key, consume: (bucket) => limiter.consume(bucket) });
}

/**
 * The stricter limiter for `POST /auth/login`, after the JSON body is parsed: one bucket per
 * account (lower-cased `email`) and one per client address, both must allow. Policies
 * `"login_account";q=<points>;w=<duration>` and `"login_ip";…` are appended to the headers the
 * general limiter wrote. These use the same token bucket script as `createRateLimiter` (see
 * `tokenBucketLuaScript` for why), refilling `points` per `durationSeconds`, which also avoids a
 * fixed window's double burst at a window edge.
 */
export function createLoginLimiter(options: LoginLimiterOptions): RequestHandler {
  const bucketFor = (suffix: string, settings: LoginLimitSettings) =>
    tokenBucketLimiter({
      redis: options.redis,
      keyPrefix: `${options.keyPrefix}:${suffix}`,
      capacity: settings.points,
      refillSeconds: settings.durationSeconds,
    });
  const accountCheck = loginLimitCheck(
    'login_account',
    options.perAccount,
    bucketFor('login-account', options.perAccount),
  );
  const ipCheck = loginLimitCheck('login_ip', options.perIp, bucketFor('login-ip', options.perIp));
  const metrics = limiterMetrics(options.registry, 'login');
  return async (request, response, next) => {
    const body: unknown = request.body;
    const email = typeof body === 'object' && body !== null && 'email' in body ? body.email : undefined;
    const addressKey = clientAddressKey(request.ip);
    const checks = [ipCheck(addressKey)];
    // Login and register name the account by email; a signed-in password check (erasure, password
    // change) by its user, so a stolen access token cannot guess the password quickly either.
    const userId = principalUserIdOf(response);
    if (typeof email === 'string' && email.trim() !== '') checks.unshift(accountCheck(accountKey(email)));
    else if (userId) checks.unshift(accountCheck(`user:${userId}`));
    metrics.activeKeys.record(addressKey, Date.now());
    next(await enforceRateLimits(checks, response, metrics, 'login'));
  };
}
