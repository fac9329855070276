import { createHash } from 'node:crypto';
import { type CallContext, type NatsConnection, request } from '@zerostate/bus';
import { authEndpoints, type Principal } from '@zerostate/contracts';
import { AppError } from '@zerostate/errors';
import { counter, type Registry } from '@zerostate/observability';
import type { LookupBudget } from './lookup-budget.js';

export interface ApiKeyResolver {
  resolve(key: string, call: CallContext): Promise<Principal>;
  /** Forgets a key at once (after a revoke through this gateway, or a revoke event). */
  evict(apiKeyId: string): void;
  /** Forgets every key of a user (deactivated, erased, or its keys revoked by an admin). */
  evictUser(userId: string): void;
}

/** `zs_` + 43 base64url characters (256 bits); anything else is refused without a lookup. */
const apiKeyFormat = /^zs_[A-Za-z0-9_-]{43}$/;
const negativeTtlMs = 2_000;

interface CacheEntry {
  principal: Principal | undefined;
  expiresAt: number;
}

/**
 * Resolves API keys through the auth service and caches the answer briefly (keyed by the key's
 * SHA-256, never the key). The cache is bounded; revocation evicts the key's entry at once.
 * Keys not in the cache spend the caller's lookup budget first: identification runs before the
 * shared rate limiter, so without it random well-formed keys would each cost a database lookup.
 */
export function createApiKeyResolver(options: {
  nc: NatsConnection;
  ttlMs: number;
  registry: Registry;
  lookupBudget: LookupBudget;
  maxEntries?: number;
}): ApiKeyResolver {
  const validations = counter(
    options.registry,
    'auth_api_key_validations_total',
    'API keys checked by the gateway, by result and source.',
    ['result', 'source'],
  );
  const maxEntries = options.maxEntries ?? 10_000;
  const cache = new Map<string, CacheEntry>();

  const remember = (hash: string, principal: Principal | undefined) => {
    if (cache.size >= maxEntries) cache.delete(cache.keys().next().value!);
    cache.set(hash, {
      principal,
      expiresAt: performance.now() + (principal ? options.ttlMs : Math.min(options.ttlMs, negativeTtlMs)),
    });
  };

  return {
    async resolve(key, call) {
      if (!apiKeyFormat.test(key)) {
        validations.inc({ result: 'invalid', source: 'format' });
        throw new AppError('INVALID_API_KEY');
      }
      const hash = createHash('sha256').update(key).digest('hex');
      const cached = cache.get(hash);
      if (cached && cached.expiresAt > performance.now()) {
        validations.inc({ result: cached.principal ? 'valid' : 'invalid', source: 'cache' });
        if (!cached.principal) throw new AppError('INVALID_API_KEY');
        return cached.principal;
      }
      const waitSeconds = options.lookupBudget.take(call.clientIp ?? 'unknown');
      if (waitSeconds > 0) {
        validations.inc({ result: 'throttled', source: 'budget' });
        throw new AppError('RATE_LIMITED', undefined, { details: { retry_after_seconds: waitSeconds } });
      }
      try {
        const principal = await request(options.nc, authEndpoints.verifyApiKey, { key }, call);
        validations.inc({ result: 'valid', source: 'service' });
        remember(hash, principal);
        return principal;
      } catch (error) {
        if (error instanceof AppError && error.code === 'INVALID_API_KEY') {
          validations.inc({ result: 'invalid', source: 'service' });
          remember(hash, undefined);
        }
        throw error;
      }
    },
    evict(apiKeyId) {
      for (const [hash, entry] of cache) {
        if (entry.principal?.api_key_id === apiKeyId) cache.delete(hash);
      }
    },
    evictUser(userId) {
      for (const [hash, entry] of cache) {
        if (entry.principal?.user_id === userId) cache.delete(hash);
      }
    },
  };
}
