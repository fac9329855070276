/**
 * An in-memory token bucket per client address, for work done before the shared rate limiter
 * runs (looking up an API key the gateway has not cached). Bounded: the least recently used
 * address is forgotten first, which only ever makes a bucket full again.
 */
export interface LookupBudget {
  /** Takes one token for `address`; returns 0 when allowed, else seconds until the next token. */
  take(address: string, nowMs?: number): number;
}

export function createLookupBudget(options: {
  capacity: number;
  refillPerMinute: number;
  maxAddresses?: number;
}): LookupBudget {
  const maxAddresses = options.maxAddresses ?? 10_000;
  const refillPerMs = options.refillPerMinute / 60_000;
  const buckets = new Map<string, { tokens: number; updatedAtMs: number }>();
  return {
    take(address, nowMs = performance.now()) {
      const bucket = buckets.get(address) ?? { tokens: options.capacity, updatedAtMs: nowMs };
      buckets.delete(address);
      bucket.tokens = Math.min(options.capacity, bucket.tokens + (nowMs - bucket.updatedAtMs) * refillPerMs);
      bucket.updatedAtMs = nowMs;
      if (buckets.size >= maxAddresses) buckets.delete(buckets.keys().next().value!);
      buckets.set(address, bucket);
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return 0;
      }
      return Math.max(1, Math.ceil((1 - bucket.tokens) / refillPerMs / 1000));
    },
  };
}
