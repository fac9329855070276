import { load, printTable } from '../load.js';
import { postJson, startBaseline, startSystem } from '../system.js';

/**
 * Baseline (bare node:http and Express hello) against an authenticated, rate-limited
 * `GET /api/v1/users/me` through the gateway (JWT verify + Redis token bucket + NATS request +
 * Prisma read in the auth service), all in one run so the ratio holds on a noisy machine.
 */
export async function usersMe(options: { connections: number; durationSeconds: number }) {
  const results = [];
  for (const kind of ['http', 'express'] as const) {
    const baseline = await startBaseline(kind);
    try {
      results.push(
        await load(`bare ${kind === 'http' ? 'node:http' : 'Express 5'} hello`, {
          url: baseline.url,
          ...options,
        }),
      );
    } finally {
      await baseline.stop();
    }
  }
  // The limiter still runs on every request (Redis token bucket); only its capacity is raised so
  // the measurement is of the path, not of 429s.
  const system = await startSystem({
    RATE_LIMIT_CAPACITY: '100000000',
    RATE_LIMIT_REFILL_PER_MINUTE: '100000000',
  });
  try {
    const session = await postJson(`${system.baseUrl}/api/v1/auth/register`, {
      email: `bench.${Date.now()}@example.com`,
      password: 'benchmark password 1',
    });
    const headers = { authorization: `Bearer ${String(session.access_token)}` };
    // Warm the JWKS cache, connection pools and JIT before measuring.
    await load('warm-up', {
      url: `${system.baseUrl}/api/v1/users/me`,
      connections: 10,
      durationSeconds: 2,
      headers,
    });
    results.push(
      await load('gateway GET /api/v1/users/me (JWT + rate limit + NATS + Postgres)', {
        url: `${system.baseUrl}/api/v1/users/me`,
        headers,
        ...options,
      }),
    );
  } finally {
    await system.stop();
  }
  printTable(
    `users-me: autocannon -c ${options.connections} -d ${options.durationSeconds}, Node ${process.env.BENCH_NODE ? '(BENCH_NODE)' : process.version}`,
    results,
    results[0]!,
  );
  return results;
}
